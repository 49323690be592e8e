"""The proposal-expiry timer (`timers.PROPOSAL_EXPIRY`): the proposal expires (`commands/expire_proposal.py`).

The firing publishes nothing itself: the new proposal's match-proposed goes out through
the proposals' outbox.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.matching.commands.expire_proposal import ExpireProposal, expire_proposal
from services.matching.context import MatchingContext
from shared.events.envelope import OutgoingEvent
from shared.storage.timers import Timer, TimerHandler


def on_proposal_expiry_timer(ctx: MatchingContext) -> TimerHandler:
    async def fire(timer: Timer) -> Sequence[OutgoingEvent]:
        await expire_proposal(ExpireProposal(str(timer.payload["match_id"])), ctx)
        return []

    return fire
