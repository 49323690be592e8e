"""A client in care asks for another therapist: a new proposal without the current one.

The current therapist is never proposed to this client again. Nothing is cancelled yet:
the client stays in care until they accept a therapist from the new proposal, when
scheduling moves their sessions (match-accepted) and books the first session with the new
therapist; that first session (`session-booked`, sequence 1) moves the client from the
former therapist's caseload to the new one's (`on_session_booked`). A switch starts a new
round of proposals (its own `max_proposals_per_intake`).

A client not yet in care but with an open proposal declines that proposal instead. Asking
again while the proposal a switch made is open returns that proposal, so a retried request
never makes a second one.
"""

from __future__ import annotations

from services.matching.commands.cause import command_cause
from services.matching.commands.decline_match import decline_match
from services.matching.commands.errors import Conflict, NotFound
from services.matching.commands.propose_matches import match_id_for, propose_again
from services.matching.context import Matching
from services.matching.store import clients as client_state
from services.matching.store import proposals
from shared.storage import Document

SWITCH_REASON = "therapist_switch"
SWITCH = "switch"


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
    if proposal is not None and proposal.get("origin") == SWITCH and proposal["status"] in proposals.HOLDING:
        return proposal  # asked again: the proposal the switch made stands
    if current is None:
        if proposal is not None and proposal["status"] in proposals.OPEN:
            return (await decline_match(matching, proposal["_id"], reason=reason)).proposal
        raise Conflict(f"client {client_id} has no therapist or open proposal to switch from")

    now = matching.clock()
    cause = command_cause(
        SWITCH,
        client_id,
        match_id or "-",
        current,
        subject=client_id,
        correlation_id=client.get("correlation_id"),
        now=now,
        source=matching.policy.source,
    )
    await matching.clients.update(client_id, client_state.exclude([current], client_state.SWITCHED, now))
    return await propose_again(
        matching,
        client_id,
        match_id=match_id_for("after", cause.id),
        cause=cause,
        origin=SWITCH,
        predecessor=match_id,
        sequence=1,
    )
