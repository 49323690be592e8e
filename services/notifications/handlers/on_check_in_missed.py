"""`check-in-missed` → no reminder any more; the therapist is prompted after repeated misses."""

from __future__ import annotations

from services.notifications.commands.check_ins import CloseCheckIn, close_check_in
from services.notifications.commands.notify import Notify
from services.notifications.context import NotificationsContext
from services.notifications.domain import audience
from services.notifications.domain.check_ins import CheckInStatus
from shared.events.envelope import Envelope
from shared.events.models import CheckInMissed
from shared.messaging.subscriptions import Handler


def on_check_in_missed(ctx: NotificationsContext) -> Handler:
    async def handle(event: CheckInMissed, envelope: Envelope) -> None:
        """Stop the check-in's reminder; prompt the therapist when misses repeat."""
        announcement = Notify.answering(audience.check_in_missed(event), event, envelope)
        closing = CloseCheckIn(
            event.check_in_id, event.client_id, CheckInStatus.missed, envelope, announcement
        )
        await close_check_in(closing, ctx)

    return handle
