"""`match-declined`: care from the declined match ends (`commands/follow_decline.py`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.scheduling.commands.follow_decline import FollowDecline, follow_decline
from services.scheduling.context import SchedulingContext
from shared.events.envelope import Envelope
from shared.events.models import MatchDeclined


def on_match_declined(ctx: SchedulingContext) -> Callable[[MatchDeclined, Envelope], Awaitable[None]]:
    async def handle(event: MatchDeclined, envelope: Envelope) -> None:
        """Record the decline; care with the declined therapist ends with it."""
        await follow_decline(FollowDecline(event, envelope), ctx)

    return handle
