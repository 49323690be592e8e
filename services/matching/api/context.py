"""What matching's routes ask for besides `shared.http.dependencies`: the `Matching` of the app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.matching.commands.errors import CommandRefused, Conflict, InvalidChoice, NotFound
from services.matching.context import Matching
from shared.http.problems import Problem


async def matching_of(request: Request) -> Matching:
    found: Matching | None = getattr(request.app.state, "matching", None)
    if found is None:
        raise RuntimeError(
            "app.state.matching is not set; build the app with services.matching.app.build_app"
        )
    return found


MatchingContext = Annotated[Matching, Depends(matching_of)]


def problem_for(refused: CommandRefused) -> Problem:
    """The problem+json answer to a refused command (404, 409, or 422 naming the field)."""
    if isinstance(refused, NotFound):
        return Problem(404, "Not Found", refused.detail)
    if isinstance(refused, Conflict):
        return Problem(409, "Conflict", refused.detail)
    if isinstance(refused, InvalidChoice):
        field = f"body.{refused.field}"
        return Problem(
            422,
            "Invalid request",
            f"{field}: {refused.detail}",
            type_="https://carepath.dev/problems/validation",
            errors=[{"field": field, "message": refused.detail}],
        )
    return Problem(400, "Bad Request", refused.detail)
