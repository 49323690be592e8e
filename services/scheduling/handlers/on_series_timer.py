"""The `series` timer (`timers.SERIES`): top up the client's series (`commands/book_series.py`)."""

from __future__ import annotations

from collections.abc import Sequence

from services.scheduling.commands.book_series import BookSeries, book_series
from services.scheduling.context import SchedulingContext
from shared.events.envelope import OutgoingEvent
from shared.storage.timers import Timer, TimerHandler


def on_series_timer(ctx: SchedulingContext) -> TimerHandler:
    async def fire(timer: Timer) -> Sequence[OutgoingEvent]:
        await book_series(BookSeries(str(timer.payload["client_id"]), timer), ctx)
        return []  # the sessions' events go out with the client's record

    return fire
