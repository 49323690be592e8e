"""`match-proposed`: keep the proposal, or book at once (`commands/follow_proposal.py`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.scheduling.commands.follow_proposal import FollowProposal, follow_proposal
from services.scheduling.context import SchedulingContext
from shared.events.envelope import Envelope
from shared.events.models import MatchProposed


def on_match_proposed(ctx: SchedulingContext) -> Callable[[MatchProposed, Envelope], Awaitable[None]]:
    async def handle(event: MatchProposed, envelope: Envelope) -> None:
        """Keep the proposal; book at once with the best-ranked fitting candidate if the policy says so."""
        await follow_proposal(FollowProposal(event, envelope), ctx)

    return handle
