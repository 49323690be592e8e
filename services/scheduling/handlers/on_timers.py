"""The care record's durable timers: `series` (top up the series) and `check-in` (check-in-due)."""

from __future__ import annotations

from collections.abc import Sequence

from services.scheduling.commands.book_series import on_series_timer
from services.scheduling.commands.context import Scheduling
from services.scheduling.commands.fire_check_in import on_check_in_timer
from shared.events.envelope import OutgoingEvent
from shared.storage.timers import Timer, TimerHandler


def series_timer(ctx: Scheduling) -> TimerHandler:
    async def fire(timer: Timer) -> Sequence[OutgoingEvent]:
        return await on_series_timer(ctx, timer)

    return fire


def check_in_timer(ctx: Scheduling) -> TimerHandler:
    async def fire(timer: Timer) -> Sequence[OutgoingEvent]:
        return await on_check_in_timer(ctx, timer)

    return fire
