"""What routes share: the commands' context, who may see or change what, refusals as problem+json.

Who may see a client's sessions is one rule for every service (`shared/care/access.py`):
the client, admins and services, and a clinician while the client chose them or is in care
with them. A refusal is audited and answered 404 exactly as for what does not exist, so a
refused caller learns nothing. Sessions add one narrowing: a clinician reaches only their
own sessions, and once the client's care with them is over only reads their own sessions
that took place before the end.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.responses import JSONResponse

from services.scheduling.commands.context import Scheduling
from services.scheduling.commands.record_care import load_care
from services.scheduling.commands.refusals import Refused
from services.scheduling.domain.care import Care, Session
from services.scheduling.domain.consent import shown_to_therapist
from shared.care.access import decide, ensure_read
from shared.care.relationship import Access
from shared.http.auth import Role
from shared.http.dependencies import AuditedRead
from shared.http.problems import Problem, problem_response
from shared.observability.audit import Access as AuditEntry

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
    if refused.reason is not None:
        extensions["reason"] = refused.reason
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


async def client_record(ctx: Scheduling, audit: AuditedRead, client_id: str, *, resource: str) -> Care:
    """The client's care record if the caller may see it (the read audited with its basis), else 404."""
    care = await care_of(ctx, client_id)
    await ensure_read(
        audit,
        care.relationships,
        client_id=client_id,
        now=ctx.now(),
        resource=resource,
        resource_id=client_id,
    )
    return care


def no_such_session() -> Problem:
    """What a missing session and a refused one both get (as `ensure_access` answers)."""
    return Problem(404, "Not Found", "no such session")


async def session_in_reach(
    ctx: Scheduling, audit: AuditedRead, session_id: str, *, acting: bool
) -> tuple[Session, str]:
    """The session and the basis of access, if the caller may read it (or act on it), else 404.

    Its client, admins and services may; a clinician only their own session while the
    client chose them or is in care with them, or, to read it, their own session that has
    started and that they keep once care with them is over. A refusal is audited.
    """
    ref = await ctx.stores.session_refs.get(session_id)
    care = None if ref is None else await load_care(ctx, ref["client_id"])
    session = None if care is None else care.session(session_id)
    if care is None or session is None:
        raise no_such_session()
    who, now = audit.who, ctx.now()
    decision = decide(who, care.client_id, care.relationships, now)
    allowed, basis = decision.allows(Access.record), decision.basis
    if who.role is Role.clinician:
        if session.therapist_id != who.subject:
            allowed, basis = False, "not_own_session"
        elif not allowed and not acting and session.starts_at <= now and shown_to_therapist(care, session):
            allowed, basis = True, "own_past_session"
    if not allowed:
        await audit.refused(resource="session", resource_id=session_id, client_id=care.client_id, basis=basis)
        raise no_such_session()
    return session, basis


async def audit_override(audit: AuditedRead, session: Session) -> None:
    """An admin's booking outside the client's consent, in the audit trail with its reason."""
    await audit.log.record(
        AuditEntry(
            actor=audit.who.subject,
            role=audit.who.role.value,
            action="booked_outside_consent",
            resource="session",
            resource_id=session.session_id,
            client_id=session.client_id,
            correlation_id=audit.correlation_id,
            basis=session.override_reason,
        )
    )
