"""Who may see and change a client's record: the care relationship decides (DESIGN §2).

Every route that reads or writes a client's clinical data asks `client_record_for` (a
route addressed by client) or `ensure_visible` (a record addressed by its own id): the
client's relationships are read from their record and `shared.care.access` decides. A
refusal is audited and answered 404, exactly like a client or record that does not
exist, so neither ids nor relationships can be probed; a grant carries its basis for the
route's audit entry. A service needs the route's scope (`intake:read` to read,
`intake:write` or `plans:write` to write; 403 naming it otherwise). Reads honour the
client's unexpired break-glass grants (`domain.break_glass`); writes never do.

Entering a client's intake or check-in answers is the client's (or an admin's, or a
service's); a clinician with the record enters them only as an explicit on-behalf entry
(`ensure_entry`, `domain.on_behalf`): without one, 403 saying so.

A route that needs only the decision, not the record, asks `allowed_for` or `ensure_allowed`:
they read the record only for a caller whose access it decides (a clinician: relationships,
break-glass grants); the client, an admin or a service are decided by who they are, so
their requests (the client's own submit on the journey) cost no read of it.

Writing the plan asks for more than reading the record (`ensure_plan_author`): only the
therapist in care writes it, or an admin or a service for them. A therapist the client
chose but has not met yet is told so (409 `not_in_care`); that refusal is audited too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Required, TypedDict, Unpack

from services.intake.context import IntakeContext
from services.intake.domain.care import plan_author
from services.intake.domain.client_record import ClientRecord
from services.intake.domain.on_behalf import (
    ON_BEHALF_OF,
    EntryVerdict,
    OnBehalfEntry,
    OnBehalfOf,
    entry_verdict,
)
from services.intake.store.client_records import client_record
from shared.care.access import Decision, ensure_access
from shared.care.relationship import Access, CareRelationships
from shared.http.auth import Role
from shared.http.dependencies import AuditedRead
from shared.http.scopes import INTAKE_READ
from shared.refusals import Conflict, FieldProblem, Invalid, NotAllowed, NotFound
from shared.storage import Document

NOT_IN_CARE = "not_in_care"


@dataclass(frozen=True, slots=True)
class Allowed:
    """Whose record access was given to, and why."""

    client_id: str
    decision: Decision
    at: datetime
    """The moment decided at (the domain clock), for decisions that follow from this one."""

    @property
    def basis(self) -> str:
        return self.decision.basis


@dataclass(frozen=True, slots=True)
class Granted(Allowed):
    """Access given, with the client's record as read for the decision."""

    record: ClientRecord

    @property
    def care(self) -> CareRelationships:
        return self.record.care


DECIDED_BY_ROLE = frozenset({Role.client, Role.admin, Role.service})
"""Callers `shared.care.access.decide` decides by who they are, without the client's
relationships or break-glass grants: their access needs no read of the record."""


class Need(TypedDict, total=False):
    """What a route asks of a client's record: checked by `client_record_for` and `allowed_for`."""

    resource: Required[str]
    resource_id: str | None
    needed: Access
    """Defaults to the whole record."""
    scope: str
    """What a service needs; defaults to `intake:read`."""
    writes: bool
    """The route changes the record (no break-glass grant opens it then); defaults to False."""


async def client_record_for(
    audit: AuditedRead, client_id: str, ctx: IntakeContext, **need: Unpack[Need]
) -> Granted:
    """The client's record when `audit.who` may have what the route needs of it; else audited 404."""
    return await _granted(audit, await client_record(ctx.clients, client_id), ctx, **need)


async def allowed_for(
    audit: AuditedRead, client_id: str, ctx: IntakeContext, **need: Unpack[Need]
) -> Allowed:
    """`client_record_for`'s decision alone: the record is read only when it decides (a clinician).

    For the client, an admin or a service the decision is the same whatever the record holds
    (`DECIDED_BY_ROLE`), so it is made on an empty one: one read fewer per such request.
    """
    record = (
        ClientRecord(client_id)
        if audit.who.role in DECIDED_BY_ROLE
        else await client_record(ctx.clients, client_id)
    )
    return await _granted(audit, record, ctx, **need)


async def _granted(
    audit: AuditedRead,
    record: ClientRecord,
    ctx: IntakeContext,
    *,
    resource: str,
    resource_id: str | None = None,
    needed: Access = Access.record,
    scope: str = INTAKE_READ,
    writes: bool = False,
) -> Granted:
    """The decision on `record` (its relationships and break-glass grants), with the record."""
    now = ctx.clock()
    decision = await ensure_access(
        audit,
        record.care,
        client_id=record.client_id,
        now=now,
        resource=resource,
        resource_id=resource_id or record.client_id,
        scope=scope,
        needed=needed,
        break_glass=record.break_glass_access,
        writes=writes,
    )
    return Granted(client_id=record.client_id, decision=decision, at=now, record=record)


async def ensure_visible(
    audit: AuditedRead,
    document: Document | None,
    ctx: IntakeContext,
    *,
    resource: str,
    resource_id: str,
    scope: str = INTAKE_READ,
    writes: bool = False,
) -> Granted:
    """Access to `document`'s client record, or 404 when it does not exist or is not the caller's."""
    if document is None:
        raise NotFound(f"no such {resource.replace('_', ' ')}")
    return await client_record_for(
        audit,
        str(document["client_id"]),
        ctx,
        resource=resource,
        resource_id=resource_id,
        scope=scope,
        writes=writes,
    )


async def ensure_allowed(
    audit: AuditedRead,
    document: Document | None,
    ctx: IntakeContext,
    *,
    resource: str,
    resource_id: str,
    scope: str = INTAKE_READ,
    writes: bool = False,
) -> Allowed:
    """`ensure_visible`'s decision alone (`allowed_for`): 404 when `document` does not exist
    or is not the caller's."""
    if document is None:
        raise NotFound(f"no such {resource.replace('_', ' ')}")
    return await allowed_for(
        audit,
        str(document["client_id"]),
        ctx,
        resource=resource,
        resource_id=resource_id,
        scope=scope,
        writes=writes,
    )


async def ensure_entry(
    audit: AuditedRead, granted: Allowed, on_behalf: OnBehalfOf | None, *, resource: str, resource_id: str
) -> tuple[OnBehalfEntry | None, str]:
    """Whether the caller, granted write access, may enter the client's answers as sent.

    Returns the on-behalf entry (None: the caller's own) and the basis for the audit entry.
    A clinician without `on_behalf_of` gets 403 (audited); anyone else sending one, 422.
    """
    who = audit.who
    verdict = entry_verdict(who.role, on_behalf)
    if verdict is EntryVerdict.not_a_clinician:
        raise Invalid([FieldProblem("body.on_behalf_of", "only a clinician enters answers for a client")])
    if verdict is EntryVerdict.needs_on_behalf:
        await audit.refused(
            resource=resource, resource_id=resource_id, client_id=granted.client_id, basis="not_on_behalf"
        )
        raise NotAllowed(
            "a clinician enters a client's answers only as an on-behalf entry: "
            "send on_behalf_of {reason, method}",
            field="body.on_behalf_of",
            code="on_behalf_of_required",
        )
    if verdict is EntryVerdict.on_behalf:
        assert on_behalf is not None
        return OnBehalfEntry(by=who.subject, method=on_behalf.method, reason=on_behalf.reason), ON_BEHALF_OF
    return None, granted.basis


async def ensure_plan_author(audit: AuditedRead, granted: Granted, *, named: str | None) -> str:
    """The therapist in care the plan is written for; 422 for a clinician naming another, 409 else."""
    who = audit.who
    if who.role is Role.clinician and named not in (None, who.subject):
        raise Invalid([FieldProblem("body.therapist_id", "a clinician writes plans as themselves")])
    author = plan_author(who, named, granted.care)
    if author is None:
        therapist = who.subject if who.role is Role.clinician else named or granted.care.chosen
        state = granted.care.state_of(therapist, granted.at) if therapist else None
        await audit.refused(
            resource="treatment_plan",
            resource_id=granted.client_id,
            client_id=granted.client_id,
            basis=state.value if state else "no_therapist_in_care",
        )
        raise Conflict(
            "the introduction has not been held yet: only the therapist in care writes the plan",
            code=NOT_IN_CARE,
        )
    return author
