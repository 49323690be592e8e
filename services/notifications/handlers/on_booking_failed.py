"""`booking-failed` → the client hears the first session is not booked yet."""

from __future__ import annotations

from services.notifications.commands.notify import Notify, notify
from services.notifications.context import NotificationsContext
from services.notifications.domain import audience
from shared.events.envelope import Envelope
from shared.events.models import BookingFailed
from shared.messaging.subscriptions import Handler


def on_booking_failed(ctx: NotificationsContext) -> Handler:
    async def handle(event: BookingFailed, envelope: Envelope) -> None:
        """Tell the client their first session is not booked yet."""
        await notify(Notify.answering(audience.booking_failed(event), event, envelope), ctx)

    return handle
