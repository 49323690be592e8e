"""Who may see or change a client's sessions, as every route that reaches them asks.

Who may see a client's sessions is one rule for every service (`shared/care/access.py`):
the client, admins and services holding `sessions:read` (`sessions:write` to act), and a
clinician while the client chose them or is in care
with them. A refusal is audited and answered 404 exactly as for what does not exist, so a
refused caller learns nothing. Sessions add one narrowing: a clinician reaches only their
own sessions, and once the client's care with them is over only reads their own sessions
that took place before the end.
"""

from __future__ import annotations

from services.scheduling.context import SchedulingContext
from services.scheduling.domain.care import Care, Session
from services.scheduling.domain.consent import shown_to_therapist
from services.scheduling.store.clients import care_of, load_care
from shared.care.access import decide, ensure_read
from shared.care.relationship import Access
from shared.http.auth import Role, ensure_scope
from shared.http.dependencies import AuditedRead
from shared.http.scopes import SESSIONS_READ, SESSIONS_WRITE
from shared.observability.audit import Access as AuditEntry
from shared.refusals import NotFound


async def client_record(ctx: SchedulingContext, audit: AuditedRead, client_id: str, *, resource: str) -> Care:
    """The client's care record if the caller may see it (the read audited with its basis), else 404."""
    care = await care_of(ctx, client_id)
    await ensure_read(
        audit,
        care.relationships,
        client_id=client_id,
        now=ctx.now(),
        resource=resource,
        resource_id=client_id,
        scope=SESSIONS_READ,
    )
    return care


def no_such_session() -> NotFound:
    """What a missing session and a refused one both get (as `ensure_access` answers)."""
    return NotFound("no such session")


async def session_in_reach(
    ctx: SchedulingContext, audit: AuditedRead, session_id: str, *, acting: bool
) -> tuple[Session, str]:
    """The session and the basis of access, if the caller may read it (or act on it), else 404.

    Its client, admins and services holding the scope may (`sessions:write` to act, else
    `sessions:read`; a service without it gets 403 naming it); a clinician only their own session while the
    client chose them or is in care with them, or, to read it, their own session that has
    started and that they keep once care with them is over. A refusal is audited.
    """
    ref = await ctx.stores.session_refs.get(session_id)
    care = None if ref is None else await load_care(ctx, ref["client_id"])
    session = None if care is None else care.session(session_id)
    if care is None or session is None:
        raise no_such_session()
    who, now = audit.who, ctx.now()
    scope = SESSIONS_WRITE if acting else SESSIONS_READ
    decision = decide(who, care.client_id, care.relationships, now, scope=scope, writes=acting)
    allowed, basis = decision.allows(Access.record), decision.basis
    if who.role is Role.clinician:
        if session.therapist_id != who.subject:
            allowed, basis = False, "not_own_session"
        elif not allowed and not acting and session.starts_at <= now and shown_to_therapist(care, session):
            allowed, basis = True, "own_past_session"
    if not allowed:
        await audit.refused(resource="session", resource_id=session_id, client_id=care.client_id, basis=basis)
        ensure_scope(who, scope)
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
