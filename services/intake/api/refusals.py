"""Command refusals as problem+json, registered once on the app (not repeated per route).

`InvalidFields` answers 422 in the very shape FastAPI's own validation errors get from
`shared.http.problems` (`errors: [{field, message}]`), so a client handles a bad body
and an incomplete intake the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.intake.commands.refusals import Conflict, InvalidFields, NotFound
from services.intake.domain.intake import FieldError
from shared.http.problems import Problem, problem_response

VALIDATION_PROBLEM = "https://carepath.dev/problems/validation"


def invalid_fields(errors: Sequence[FieldError]) -> Problem:
    first = errors[0]
    return Problem(
        422,
        "Invalid request",
        f"{first.field}: {first.message}",
        type_=VALIDATION_PROBLEM,
        errors=[{"field": error.field, "message": error.message} for error in errors],
    )


def install_refusal_handlers(app: FastAPI) -> None:
    async def _invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InvalidFields)
        return problem_response(invalid_fields(exc.errors), request)

    async def _not_found(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(Problem(404, "Not Found", "no such record"), request)

    async def _conflict(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Conflict)
        problem = Problem(409, "Conflict", str(exc))
        if exc.code:
            problem.extensions["code"] = exc.code
        return problem_response(problem, request)

    app.add_exception_handler(InvalidFields, _invalid)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Conflict, _conflict)
