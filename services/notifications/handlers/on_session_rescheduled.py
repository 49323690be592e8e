"""`session-rescheduled` → client and therapist get the new time and an updated .ics; reminders move."""

from __future__ import annotations

from services.notifications.commands.sessions import AnnounceReschedule, announce_reschedule
from services.notifications.context import NotificationsContext
from shared.events.envelope import Envelope
from shared.events.models import SessionRescheduled
from shared.messaging.subscriptions import Handler


def on_session_rescheduled(ctx: NotificationsContext) -> Handler:
    async def handle(event: SessionRescheduled, envelope: Envelope) -> None:
        """Move the session's reminders and tell both of the new time."""
        await announce_reschedule(AnnounceReschedule(event, envelope), ctx)

    return handle
