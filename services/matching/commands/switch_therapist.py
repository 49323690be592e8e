"""A client in care asks for another therapist: a new proposal without the current one.

The current therapist is never proposed to this client again. Nothing is cancelled yet:
the client stays in care until they accept a therapist from the new proposal, when
scheduling moves their sessions (match-accepted) and books the first session with the new
therapist; that first session (`session-booked`, sequence 1) moves the client from the
former therapist's caseload to the new one's (`record_booking`). A switch starts a new
round of proposals (its own `max_proposals_per_intake`).

A client not yet in care but with an open proposal declines that proposal instead. Asking
again while the proposal a switch made is open returns that proposal, so a retried request
never makes a second one.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.matching.commands.decline_match import DeclineMatch, decline_match
from services.matching.commands.propose_again import ProposeAgain, propose_again
from services.matching.context import SERVICE, MatchingContext
from services.matching.domain.client import SWITCHED
from services.matching.domain.proposal import match_id_for
from services.matching.store.clients import changing, client_of
from services.matching.store.proposals import proposal_of
from shared.events.envelope import command_cause
from shared.refusals import Conflict, NotFound
from shared.storage import Document

SWITCH_REASON = "therapist_switch"
SWITCH = "switch"


@dataclass(frozen=True, slots=True)
class SwitchTherapist:
    client_id: str
    reason: str = SWITCH_REASON


async def switch_therapist(command: SwitchTherapist, ctx: MatchingContext) -> Document | None:
    """Returns the new proposal (None when none could be made)."""
    client_id = command.client_id
    document = await ctx.clients.get(client_id)
    if document is None:
        raise NotFound(f"no client {client_id} known to matching")
    client = client_of(document, client_id)
    current, match_id = client.therapist_id, client.current_match_id
    found = await ctx.proposals.get(match_id) if match_id else None
    proposal = proposal_of(found) if found is not None else None
    if found is not None and proposal is not None and proposal.origin == SWITCH and proposal.is_holding:
        return found  # asked again: the proposal the switch made stands
    if current is None:
        if proposal is not None and proposal.is_open:
            return (await decline_match(DeclineMatch(proposal.match_id, reason=command.reason), ctx)).proposal
        raise Conflict(f"client {client_id} has no therapist or open proposal to switch from")

    now = ctx.clock()
    cause = command_cause(
        SERVICE,
        SWITCH,
        client_id,
        match_id or "-",
        current,
        subject=client_id,
        correlation_id=client.correlation_id,
        now=now,
    )
    await ctx.clients.update(
        client_id, changing(client_id, lambda known: known.exclude([current], SWITCHED), now)
    )
    return await propose_again(
        ProposeAgain(
            client_id, match_id_for("after", cause.id), cause, origin=SWITCH, predecessor=match_id, sequence=1
        ),
        ctx,
    )
