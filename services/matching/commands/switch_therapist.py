"""A client in care asks for another therapist: match-declined for the current one, then a new proposal.

The current therapist leaves the client's caseload and is never proposed to them again;
the new proposal starts a new round of proposals (its own `max_proposals_per_intake`). A
client not yet in care but with an open proposal declines that proposal instead. Asking
again while the proposal a switch made is open returns that proposal (a retried request
must not decline it).
"""

from __future__ import annotations

from services.matching.commands.cause import command_cause
from services.matching.commands.decline_match import decline_match
from services.matching.commands.errors import Conflict, NotFound
from services.matching.commands.propose_matches import match_id_for, propose_again
from services.matching.commands.release_holds import release_holds
from services.matching.context import Matching
from services.matching.store import clients as client_state
from services.matching.store import proposals
from services.matching.store.therapists import end_care
from shared.events.envelope import new_event
from shared.events.models import MatchDeclined
from shared.storage import Document

SWITCH_REASON = "therapist_switch"


async def switch_therapist(
    matching: Matching, client_id: str, *, reason: str = SWITCH_REASON
) -> Document | None:
    """Returns the new proposal (None when none could be made)."""
    client = await matching.clients.get(client_id)
    if client is None:
        raise NotFound(f"no client {client_id} known to matching")
    current = client.get("therapist_id")
    match_id = client.get("current_match_id")
    proposal = await matching.proposals.get(match_id) if match_id else None
    if current is None:
        if (
            proposal is not None
            and proposal.get("origin") == "switch"
            and proposal["status"] in proposals.OPEN
        ):
            return proposal  # asked again: the proposal the switch made stands
        if proposal is not None and proposal["status"] in proposals.OPEN:
            return (await decline_match(matching, proposal["_id"], reason=reason)).proposal
        raise Conflict(f"client {client_id} has no therapist or open proposal to switch from")

    now = matching.clock()
    cause = command_cause(
        "switch",
        client_id,
        match_id or "-",
        current,
        subject=client_id,
        correlation_id=client.get("correlation_id"),
        now=now,
        source=matching.policy.source,
    )
    event = new_event(
        MatchDeclined(
            match_id=match_id or match_id_for("switch", client_id),
            client_id=client_id,
            therapist_id=current,
            reason=reason,
            declined_at=now,
        ),
        source=matching.policy.source,
        cause=cause,
        now=now,
    )
    await matching.change_therapists([(current, end_care(client_id, now))])
    await matching.clients.update(client_id, client_state.switched_from(current, now, [event]), cause=cause)
    next_id = match_id_for("after", cause.id)
    if proposal is not None:
        closing = proposals.close(proposals.SWITCHED, now, closed_by=cause.id, successor=next_id)
        await matching.proposals.update(proposal["_id"], closing)
        await release_holds(matching, proposal)
    return await propose_again(
        matching,
        client_id,
        match_id=next_id,
        cause=cause,
        origin="switch",
        predecessor=match_id,
        sequence=1,
    )
