"""The `check-in-expiry` timer → an unanswered check-in expires as missed (`check-in-missed`).

The event goes out through the check-in's own outbox, in the write that marks it missed,
so the timer's firing publishes nothing itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from services.intake.commands.expire_check_in import expire_check_in
from services.intake.store import IntakeStores
from shared.events.envelope import OutgoingEvent
from shared.ports import Clock
from shared.storage.timers import Timer, TimerHandler


def on_check_in_expiry(stores: IntakeStores, clock: Clock, *, expiry: timedelta) -> TimerHandler:
    async def fire(timer: Timer) -> Sequence[OutgoingEvent]:
        """Expire the timer's check-in if it is still pending."""
        await expire_check_in(
            stores,
            str(timer.payload["check_in_id"]),
            expiry=expiry,
            event_id=timer.event_id("check-in-missed"),
            now=clock(),
        )
        return []

    return fire
