"""`timers.CHECK_IN_REMINDER` → remind the client of their check-in, if it is still open."""

from __future__ import annotations

from services.notifications.commands.check_ins import RemindOfCheckIn, remind_of_check_in
from services.notifications.context import NotificationsContext
from shared.events.envelope import OutgoingEvent
from shared.storage.timers import Timer, TimerHandler


def on_check_in_reminder_timer(ctx: NotificationsContext) -> TimerHandler:
    async def handle(timer: Timer) -> list[OutgoingEvent]:
        """A check-in's reminder is due: send it, unless it was answered or missed."""
        reminder = RemindOfCheckIn(str(timer.payload["check_in_id"]), timer.event_id("reminder"), timer.id)
        await remind_of_check_in(reminder, ctx)
        return []

    return handle
