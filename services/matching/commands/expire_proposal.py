"""A proposal nobody booked, accepted or declined in time expires and gives its capacity back.

Fired by the durable timer `proposal-expiry:<match_id>` that `propose_matches` scheduled
(one replica fires it, once in effect). An accepted proposal keeps its accepted therapist's
hold, which lapses on its own once the accepted TTL passes.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.matching.commands.release_holds import release_holds
from services.matching.context import Matching
from services.matching.store import proposals
from shared.events.envelope import OutgoingEvent
from shared.storage.timers import Timer, TimerHandler


def expire_proposal(matching: Matching) -> TimerHandler:
    async def fire(timer: Timer) -> Sequence[OutgoingEvent]:
        match_id = str(timer.payload["match_id"])
        proposal = await matching.proposals.get(match_id)
        if proposal is None or proposal["status"] != proposals.PROPOSED:
            return []
        closing = proposals.close(
            proposals.EXPIRED, matching.clock(), closed_by=timer.id, only_from=frozenset({proposals.PROPOSED})
        )
        await matching.proposals.update(match_id, closing)
        await release_holds(matching, proposal)
        return []

    return fire
