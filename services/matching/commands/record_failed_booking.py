"""Scheduling could not book a proposal: release its holds and propose again without who had no slot.

The therapists scheduling tried (all the candidates, when it does not say) are excluded for
this intake; a proposal that had no candidates is not re-proposed (nothing changed that
could help, and scheduling would fail again), and neither is a client who had
`max_proposals_per_intake` already. A failure of a proposal that moved on already only
gives back what it still held.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.matching.commands.propose_again import ProposeAgain, propose_again
from services.matching.commands.release_holds import ReleaseHolds, release_holds
from services.matching.context import MatchingContext
from services.matching.domain.client import NO_SLOT
from services.matching.domain.proposal import match_id_for
from services.matching.store.clients import changing
from services.matching.store.proposals import moving, proposal_of
from shared.events.envelope import Envelope
from shared.events.models import BookingFailed
from shared.observability.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RecordFailedBooking:
    failure: BookingFailed
    cause: Envelope


async def record_failed_booking(command: RecordFailedBooking, ctx: MatchingContext) -> None:
    failure, cause = command.failure, command.cause
    document = await ctx.proposals.get(failure.match_id)
    if document is None:
        log.warning("booking failed for an unknown match", match_id=failure.match_id)
        return
    proposal = proposal_of(document)
    if not proposal.may_fail(cause.id):
        await release_holds(ReleaseHolds.of(proposal), ctx)  # stale: the proposal moved on already
        return
    now = ctx.clock()
    next_id = match_id_for("after", cause.id)
    failing = moving(lambda p: p.fail(now, by=cause.id, successor=next_id, reason=failure.reason))
    await ctx.proposals.update(failure.match_id, failing, cause=cause)
    await release_holds(ReleaseHolds.of(proposal), ctx)
    tried = list(failure.tried_therapist_ids) or list(proposal.candidates)
    await ctx.clients.update(
        failure.client_id, changing(failure.client_id, lambda c: c.exclude(tried, NO_SLOT), now)
    )
    if not proposal.candidates:
        log.info(
            "booking failed for a proposal without candidates: not proposed again", match_id=failure.match_id
        )
        return
    await propose_again(
        ProposeAgain(
            failure.client_id,
            next_id,
            cause,
            origin="booking_failed",
            predecessor=failure.match_id,
            sequence=proposal.sequence + 1,
        ),
        ctx,
    )
