"""`timers.SESSION_REMINDER` → remind client and therapist of the session's current time and link."""

from __future__ import annotations

from services.notifications.commands.sessions import RemindOfSession, remind_of_session
from services.notifications.context import NotificationsContext
from shared.events.envelope import OutgoingEvent
from shared.storage.timers import Timer, TimerHandler


def on_session_reminder_timer(ctx: NotificationsContext) -> TimerHandler:
    async def handle(timer: Timer) -> list[OutgoingEvent]:
        """A session's reminder is due: send it, if the session still holds."""
        reminder = RemindOfSession(
            session_id=str(timer.payload["session_id"]),
            lead=str(timer.payload["lead"]),
            due_at=timer.due_at,
            event_id=timer.event_id("reminder"),
            timer_id=timer.id,
        )
        await remind_of_session(reminder, ctx)
        return []

    return handle
