"""RFC 9457 problem details (`application/problem+json`) for every error (DESIGN §7)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.observability.logs import get_logger
from shared.refusals import Conflict, Invalid, NotAllowed, NotFound, Refused
from shared.storage.locks import LockTimeout

PROBLEM_JSON = "application/problem+json"
VALIDATION = "https://carepath.dev/problems/validation"

log = get_logger(__name__)


class Problem(Exception):
    """Raise from a route to answer with problem+json."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.headers = headers or {}
        self.extensions = extensions

    def body(self, instance: str) -> dict[str, Any]:
        return {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
            **self.extensions,
        }


def problem_response(problem: Problem, request: Request) -> JSONResponse:
    return JSONResponse(
        problem.body(request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


_REFUSALS: tuple[tuple[type[Refused], int, str], ...] = (
    (NotFound, 404, "Not Found"),
    (Conflict, 409, "Conflict"),
    (Invalid, 422, "Invalid request"),
    (NotAllowed, 403, "Forbidden"),
)


def refusal_problem(refused: Refused) -> Problem:
    """A command's refusal as problem+json: its kind sets the status, its code the `type`."""
    status, title = next(((s, t) for kind, s, t in _REFUSALS if isinstance(refused, kind)), (409, "Conflict"))
    extensions: dict[str, Any] = {}
    if refused.code:
        extensions["code"] = refused.code
    if refused.reason:
        extensions["reason"] = refused.reason
    if refused.field:
        extensions["field"] = refused.field
    if refused.errors:
        extensions["errors"] = [{"field": e.field, "message": e.message} for e in refused.errors]
    if isinstance(refused, Invalid):
        type_ = VALIDATION
    elif refused.code:
        type_ = f"https://carepath.dev/problems/{refused.code.replace('_', '-')}"
    else:
        type_ = "about:blank"
    return Problem(status, title, refused.message, type_=type_, **extensions)


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """Name each offending field (e.g. `body.phq9.item9`) without echoing its value."""
    return [
        {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in exc.errors()
    ]


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> JSONResponse:
        return problem_response(refusal_problem(exc), request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        first = errors[0] if errors else {"field": "", "message": "invalid request"}
        problem = Problem(
            422,
            "Invalid request",
            f"{first['field']}: {first['message']}",
            type_=VALIDATION,
            errors=errors,
        )
        return problem_response(problem, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            Problem(
                exc.status_code, _title(exc.status_code), str(exc.detail), headers=dict(exc.headers or {})
            ),
            request,
        )

    @app.exception_handler(LockTimeout)
    @app.exception_handler(ConnectionFailure)
    async def _busy(request: Request, exc: Exception) -> JSONResponse:
        # A record held by another writer, or the database out of reach: the request can
        # succeed if repeated shortly, so say so (503 + Retry-After) rather than 500.
        if isinstance(exc, LockTimeout):  # whose turn it waited for, to tell contention from a stall
            log.warning(
                "request waited too long for a record's lease",
                path=request.url.path,
                resource=exc.resource,
                reason="other writers in this process" if exc.here else "held by another writer",
            )
        else:
            log.warning(
                "request met unreachable storage", path=request.url.path, error_type=type(exc).__name__
            )
        return problem_response(
            Problem(
                503,
                "Service Unavailable",
                "the record is busy or storage is unreachable; retry shortly",
                headers={"Retry-After": "1"},
            ),
            request,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in request", path=request.url.path)
        return problem_response(
            Problem(500, "Internal Server Error", "an unexpected error occurred; it has been logged"),
            request,
        )


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
