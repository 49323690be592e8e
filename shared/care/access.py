"""Who may see what of a client's record, decided once for every service (DESIGN §2, §7).

- the client: their own record, all of it;
- an admin or another service: all of it (the service's own routes narrow writes further);
- a clinician: what their care relationship with the client allows right now
  (`relationship.Access`): the referral summary while proposed, the record while chosen or
  in care, nothing otherwise;
- anyone else: nothing.

`ensure_access` is what routes call: it records the refusal in the audit trail and refuses
with `NotFound` (404), exactly as for a client that does not exist, so a refused caller
learns nothing, not even that the client is known. The grant's basis goes into the audit
entry of the read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.care.relationship import Access, CareRelationships
from shared.http.auth import Principal, Role
from shared.http.dependencies import AuditedRead
from shared.refusals import NotFound

_RANK = {Access.none: 0, Access.referral: 1, Access.record: 2}


@dataclass(frozen=True, slots=True)
class Decision:
    access: Access
    basis: str
    """Why: `own_record`, the role (`admin`, `service`), or the relationship state."""

    def allows(self, needed: Access) -> bool:
        return _RANK[self.access] >= _RANK[needed]


def decide(who: Principal, client_id: str, relationships: CareRelationships, now: datetime) -> Decision:
    if who.role is Role.client:
        own = who.subject == client_id
        return Decision(Access.record if own else Access.none, "own_record" if own else "not_own_record")
    if who.role in (Role.admin, Role.service):
        return Decision(Access.record, who.role.value)
    state = relationships.state_of(who.subject, now)
    return Decision(relationships.access(who.subject, now), state.value if state else "no_relationship")


async def ensure_access(
    audit: AuditedRead,
    relationships: CareRelationships,
    *,
    client_id: str,
    now: datetime,
    resource: str,
    resource_id: str,
    needed: Access = Access.record,
) -> Decision:
    """The decision when it allows `needed`; else the refusal is audited and 404 answered."""
    decision = decide(audit.who, client_id, relationships, now)
    if not decision.allows(needed):
        await audit.refused(
            resource=resource, resource_id=resource_id, client_id=client_id, basis=decision.basis
        )
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
    needed: Access = Access.record,
) -> Decision:
    """`ensure_access`, then the granted read recorded with its basis (routes that read at once)."""
    decision = await ensure_access(
        audit,
        relationships,
        client_id=client_id,
        now=now,
        resource=resource,
        resource_id=resource_id,
        needed=needed,
    )
    await audit.read(resource=resource, resource_id=resource_id, client_id=client_id, basis=decision.basis)
    return decision
