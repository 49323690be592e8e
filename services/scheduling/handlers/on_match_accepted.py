"""`match-accepted`: book the introduction with the chosen therapist, or switch care to them
(`commands/follow_acceptance.py`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.scheduling.commands.follow_acceptance import FollowAcceptance, follow_acceptance
from services.scheduling.context import SchedulingContext
from shared.events.envelope import Envelope
from shared.events.models import MatchAccepted


def on_match_accepted(ctx: SchedulingContext) -> Callable[[MatchAccepted, Envelope], Awaitable[None]]:
    async def handle(event: MatchAccepted, envelope: Envelope) -> None:
        """Book the introduction with the accepted therapist, or switch the client's care to them."""
        await follow_acceptance(FollowAcceptance(event, envelope), ctx)

    return handle
