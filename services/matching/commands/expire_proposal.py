"""A proposal nobody booked, accepted or declined in time expires, and the client gets a new one.

Fired by the durable timer `proposal-expiry:<match_id>` that `propose_matches` scheduled
(one replica fires it, once in effect). The proposal is closed `expired` (its successor
named), its holds go back, and a new proposal is made at once from the client's latest
intake (`origin: expired`, `predecessor_match_id`: the expired one), without the
therapists the client declined or switched away from; the same therapists may well be
proposed again, since they simply were not answered. The new proposal is what tells the
client. Its id derives from the expired proposal, so a timer fired twice (a lease lost
mid-way) makes it once. Bounded by `max_proposals_per_intake`: past it, an operator alert
and no new proposal.

An accepted proposal does not expire: its accepted therapist's hold lapses on its own once
the accepted TTL passes. An empty proposal has no expiry timer (its client waits on the
waitlist instead); should one fire anyway, nothing happens, so an empty proposal never
expires into another empty one.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.matching.commands.cause import command_cause
from services.matching.commands.propose_matches import match_id_for, propose_again
from services.matching.commands.release_holds import release_holds
from services.matching.context import Matching
from services.matching.store import proposals
from shared.events.envelope import OutgoingEvent
from shared.storage.timers import Timer, TimerHandler

EXPIRED = "expired"


def expire_proposal(matching: Matching) -> TimerHandler:
    async def fire(timer: Timer) -> Sequence[OutgoingEvent]:
        match_id = str(timer.payload["match_id"])
        proposal = await matching.proposals.get(match_id)
        if proposal is None or not proposals.candidate_ids(proposal):
            return []
        now = matching.clock()
        cause = command_cause(
            "expire",
            match_id,
            subject=proposal["client_id"],
            correlation_id=proposal.get("correlation_id"),
            now=now,
            source=matching.policy.source,
        )
        ours = proposal["status"] == proposals.EXPIRED and proposal.get("closed_by") == cause.id
        if proposal["status"] != proposals.PROPOSED and not ours:
            return []  # answered (accepted, booked, declined...) before it lapsed
        sequence = int(proposal.get("sequence", 1)) + 1
        next_id = match_id_for(EXPIRED, match_id)
        closing = proposals.close(
            proposals.EXPIRED,
            now,
            closed_by=cause.id,
            only_from=frozenset({proposals.PROPOSED}),
            successor=next_id if sequence <= matching.policy.max_proposals_per_intake else None,
        )
        await matching.proposals.update(match_id, closing)
        await release_holds(matching, proposal)
        await propose_again(
            matching,
            proposal["client_id"],
            match_id=next_id,
            cause=cause,
            origin=EXPIRED,
            predecessor=match_id,
            sequence=sequence,
        )
        return []

    return fire
