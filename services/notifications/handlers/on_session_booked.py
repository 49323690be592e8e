"""`session-booked` → client and therapist get the time, the link and an .ics; reminders are set."""

from __future__ import annotations

from services.notifications.commands.sessions import AnnounceBooking, announce_booking
from services.notifications.context import NotificationsContext
from shared.events.envelope import Envelope
from shared.events.models import SessionBooked
from shared.messaging.subscriptions import Handler


def on_session_booked(ctx: NotificationsContext) -> Handler:
    async def handle(event: SessionBooked, envelope: Envelope) -> None:
        """Tell client and therapist (e-mail with .ics); remind them 24 h and 1 h before."""
        await announce_booking(AnnounceBooking(event, envelope), ctx)

    return handle
