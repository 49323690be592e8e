"""Who may see what of a client's record, decided once for every service (DESIGN §2, §7).

- the client: their own record, all of it;
- an admin: all of it (the service's own routes narrow writes further);
- another service: all of it when its token holds the route's scope (`shared/http/scopes.py`),
  nothing otherwise;
- a clinician: what their care relationship with the client allows right now
  (`relationship.Access`): the referral summary while proposed, the record while chosen or
  in care, nothing otherwise; or, to read only, the record while an unexpired break-glass
  grant names them (the on-call clinician paged for the client: `BreakGlass`);
- anyone else: nothing.

`ensure_access` is what routes call: it records the refusal in the audit trail and refuses
with `NotFound` (404), exactly as for a client that does not exist, so a refused caller
learns nothing, not even that the client is known. A service lacking the scope is the one
exception: it gets 403 naming the scope (a configured backend learns nothing about a
client from that). The grant's basis goes into the audit entry of the read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from shared.care.relationship import Access, CareRelationships
from shared.http.auth import Principal, Role, ensure_scope
from shared.http.dependencies import AuditedRead
from shared.refusals import NotFound

MISSING_SCOPE = "missing_scope"
BREAK_GLASS = "break_glass"

_RANK = {Access.none: 0, Access.referral: 1, Access.record: 2}


@dataclass(frozen=True, slots=True)
class Decision:
    access: Access
    basis: str
    """Why: `own_record`, the role (`admin`, `service`), `missing_scope`, the relationship
    state, or `break_glass`."""

    def allows(self, needed: Access) -> bool:
        return _RANK[self.access] >= _RANK[needed]


@dataclass(frozen=True, slots=True)
class BreakGlass:
    """Time-limited read access to a client's record for the on-call clinician paged for them."""

    therapist_id: str
    granted_at: datetime
    expires_at: datetime

    def open_at(self, now: datetime) -> bool:
        return self.granted_at <= now < self.expires_at


def decide(
    who: Principal,
    client_id: str,
    relationships: CareRelationships,
    now: datetime,
    *,
    scope: str,
    break_glass: Iterable[BreakGlass] = (),
    writes: bool = False,
) -> Decision:
    """What `who` may have of the client's record now.

    `scope` is what a service needs for this route; `break_glass` are the client's grants,
    honoured only when the route reads (`writes` False) and only for the clinician named.
    """
    if who.role is Role.client:
        own = who.subject == client_id
        return Decision(Access.record if own else Access.none, "own_record" if own else "not_own_record")
    if who.role is Role.admin:
        return Decision(Access.record, who.role.value)
    if who.role is Role.service:
        held = who.holds(scope)
        return Decision(Access.record if held else Access.none, who.role.value if held else MISSING_SCOPE)
    state = relationships.state_of(who.subject, now)
    decision = Decision(relationships.access(who.subject, now), state.value if state else "no_relationship")
    if decision.allows(Access.record) or writes:
        return decision
    if any(grant.therapist_id == who.subject and grant.open_at(now) for grant in break_glass):
        return Decision(Access.record, BREAK_GLASS)
    return decision


async def ensure_access(
    audit: AuditedRead,
    relationships: CareRelationships,
    *,
    client_id: str,
    now: datetime,
    resource: str,
    resource_id: str,
    scope: str,
    needed: Access = Access.record,
    break_glass: Iterable[BreakGlass] = (),
    writes: bool = False,
) -> Decision:
    """The decision when it allows `needed`; else the refusal is audited and 404 answered.

    A service without `scope` is refused with 403 naming it (audited too).
    """
    decision = decide(
        audit.who, client_id, relationships, now, scope=scope, break_glass=break_glass, writes=writes
    )
    if not decision.allows(needed):
        await audit.refused(
            resource=resource, resource_id=resource_id, client_id=client_id, basis=decision.basis
        )
        ensure_scope(audit.who, scope)
        raise NotFound(f"no such {resource.replace('_', ' ')}")
    return decision


async def ensure_read(
    audit: AuditedRead,
    relationships: CareRelationships,
    *,
    client_id: str,
    now: datetime,
    resource: str,
    resource_id: str,
    scope: str,
    needed: Access = Access.record,
    break_glass: Iterable[BreakGlass] = (),
) -> Decision:
    """`ensure_access`, then the granted read recorded with its basis (routes that read at once)."""
    decision = await ensure_access(
        audit,
        relationships,
        client_id=client_id,
        now=now,
        resource=resource,
        resource_id=resource_id,
        scope=scope,
        needed=needed,
        break_glass=break_glass,
    )
    await audit.read(resource=resource, resource_id=resource_id, client_id=client_id, basis=decision.basis)
    return decision
