"""The `check-in-expiry` timer → an unanswered check-in expires as missed (`check-in-missed`).

The event goes out through the check-in's own outbox, in the write that marks it missed,
so the timer's firing publishes nothing itself; its id derives from the timer, so two
replicas firing it publish one event in effect.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.intake.commands.expire_check_in import ExpireCheckIn, expire_check_in
from services.intake.context import IntakeContext
from shared.events.envelope import OutgoingEvent
from shared.storage.timers import Timer, TimerHandler


def on_check_in_expiry_timer(ctx: IntakeContext) -> TimerHandler:
    async def fire(timer: Timer) -> Sequence[OutgoingEvent]:
        """Expire the timer's check-in if it is still pending."""
        command = ExpireCheckIn(
            check_in_id=str(timer.payload["check_in_id"]),
            event_id=timer.event_id("check-in-missed"),
            now=ctx.clock(),
        )
        await expire_check_in(command, ctx)
        return []

    return fire
