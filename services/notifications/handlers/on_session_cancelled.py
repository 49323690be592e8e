"""`session-cancelled` → reminders are cancelled; client and therapist hear it (a cancelling .ics)."""

from __future__ import annotations

from services.notifications.commands.sessions import AnnounceCancellation, announce_cancellation
from services.notifications.context import NotificationsContext
from shared.events.envelope import Envelope
from shared.events.models import SessionCancelled
from shared.messaging.subscriptions import Handler


def on_session_cancelled(ctx: NotificationsContext) -> Handler:
    async def handle(event: SessionCancelled, envelope: Envelope) -> None:
        """Cancel the session's reminders and tell both it is off."""
        await announce_cancellation(AnnounceCancellation(event, envelope), ctx)

    return handle
