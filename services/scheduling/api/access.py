"""What routes share: the commands' context, who may see or change what, refusals as problem+json."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.responses import JSONResponse

from services.scheduling.commands.context import Scheduling
from services.scheduling.commands.record_care import load_care
from services.scheduling.commands.refusals import Refused, not_found
from services.scheduling.domain.care import Care, Session
from shared.http.auth import Principal
from shared.http.problems import Problem, problem_response

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"

TherapistId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
ClientId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
SessionId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]

_TITLES = {404: "Not Found", 409: "Conflict", 422: "Invalid request", 403: "Forbidden"}


async def scheduling(request: Request) -> Scheduling:
    """The commands' context, put on the app by `build_app`."""
    context: Scheduling = request.app.state.scheduling
    return context


Context = Annotated[Scheduling, Depends(scheduling)]


def as_problem(refused: Refused) -> Problem:
    """A command's refusal as problem+json: its code names the problem, `field` the input."""
    extensions: dict[str, Any] = {"code": refused.code}
    if refused.field is not None:
        extensions["errors"] = [{"field": f"body.{refused.field}", "message": refused.detail}]
    return Problem(
        refused.status,
        _TITLES.get(refused.status, "Error"),
        refused.detail,
        type_=f"https://carepath.dev/problems/{refused.code.replace('_', '-')}",
        **extensions,
    )


async def refused_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refused)
    return problem_response(as_problem(exc), request)


def forbidden(detail: str) -> Problem:
    return Problem(403, "Forbidden", detail)


async def care_of(ctx: Scheduling, client_id: str) -> Care:
    return await load_care(ctx, client_id) or Care(client_id=client_id)


async def session_of(ctx: Scheduling, session_id: str) -> Session:
    """The session by id (through `session_refs`), or 404."""
    ref = await ctx.stores.session_refs.get(session_id)
    care = None if ref is None else await load_care(ctx, ref["client_id"])
    session = None if care is None else care.session(session_id)
    if session is None:
        raise not_found("session", session_id)
    return session


def may_see_client(who: Principal, care: Care) -> bool:
    """The client, admins and services, and the client's clinicians."""
    return who.may_act_for_client(care.client_id, treating_therapist_ids=care.therapists())


def may_act_on_session(who: Principal, session: Session) -> bool:
    """The session's client and clinician, admins and services."""
    return who.may_act_for_client(session.client_id, treating_therapist_ids=[session.therapist_id])
