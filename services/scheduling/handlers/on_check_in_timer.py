"""The `check-in` timer (`timers.CHECK_IN`): `check-in-due`, then the next one
(`commands/fire_check_in.py`); the event goes out with the timer's firing."""

from __future__ import annotations

from collections.abc import Sequence

from services.scheduling.commands.fire_check_in import FireCheckIn, fire_check_in
from services.scheduling.context import SchedulingContext
from shared.events.envelope import OutgoingEvent
from shared.storage.timers import Timer, TimerHandler


def on_check_in_timer(ctx: SchedulingContext) -> TimerHandler:
    async def fire(timer: Timer) -> Sequence[OutgoingEvent]:
        return await fire_check_in(FireCheckIn(str(timer.payload["client_id"]), timer), ctx)

    return fire
