"""A proposal nobody booked, accepted or declined in time expires, and the client gets a new one.

Asked for by the durable timer `proposal-expiry:<match_id>` that `propose_matches`
scheduled (`timers.PROPOSAL_EXPIRY`; one replica fires it, once in effect). The proposal is
closed `expired` (its successor named), its holds go back, and a new proposal is made at
once from the client's latest intake (`origin: expired`, `predecessor_match_id`: the
expired one), without the therapists the client declined or switched away from; the same
therapists may well be proposed again, since they simply were not answered. The new
proposal is what tells the client. Its id derives from the expired proposal, so a timer
fired twice (a lease lost mid-way) makes it once. Bounded by `max_proposals_per_intake`:
past it, an operator alert and no new proposal.

An accepted proposal does not expire: its accepted therapist's hold lapses on its own once
the accepted TTL passes. An empty proposal has no expiry timer (its client waits on the
waitlist instead); should one fire anyway, nothing happens, so an empty proposal never
expires into another empty one.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.matching.commands.propose_again import ProposeAgain, propose_again
from services.matching.commands.release_holds import ReleaseHolds, release_holds
from services.matching.context import SERVICE, MatchingContext
from services.matching.domain.proposal import match_id_for
from services.matching.store.proposals import moving, proposal_of
from shared.events.envelope import command_cause

EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class ExpireProposal:
    match_id: str


async def expire_proposal(command: ExpireProposal, ctx: MatchingContext) -> None:
    match_id = command.match_id
    document = await ctx.proposals.get(match_id)
    if document is None:
        return
    proposal = proposal_of(document)
    now = ctx.clock()
    cause = command_cause(
        SERVICE,
        "expire",
        match_id,
        subject=proposal.client_id,
        correlation_id=proposal.correlation_id,
        now=now,
    )
    if not proposal.may_expire(cause.id):
        return  # empty, or answered (accepted, booked, declined...) before it lapsed
    sequence = proposal.sequence + 1
    next_id = match_id_for(EXPIRED, match_id)
    successor = next_id if sequence <= ctx.policy.max_proposals_per_intake else None
    await ctx.proposals.update(match_id, moving(lambda p: p.expire(now, by=cause.id, successor=successor)))
    await release_holds(ReleaseHolds.of(proposal), ctx)
    await propose_again(
        ProposeAgain(
            proposal.client_id, next_id, cause, origin=EXPIRED, predecessor=match_id, sequence=sequence
        ),
        ctx,
    )
