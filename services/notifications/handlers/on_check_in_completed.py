"""`check-in-completed` → no reminder any more; the therapist is alerted on reliable deterioration
or a suggested plan review."""

from __future__ import annotations

from services.notifications.commands.check_ins import CloseCheckIn, close_check_in
from services.notifications.commands.notify import Notify
from services.notifications.context import NotificationsContext
from services.notifications.domain import audience
from services.notifications.domain.check_ins import CheckInStatus
from shared.events.envelope import Envelope
from shared.events.models import CheckInCompleted
from shared.messaging.subscriptions import Handler


def on_check_in_completed(ctx: NotificationsContext) -> Handler:
    async def handle(event: CheckInCompleted, envelope: Envelope) -> None:
        """Stop the check-in's reminder; alert the therapist when the check-in needs their attention."""
        announcement = Notify.answering(audience.check_in_completed(event), event, envelope)
        closing = CloseCheckIn(
            event.check_in_id, event.client_id, CheckInStatus.completed, envelope, announcement
        )
        await close_check_in(closing, ctx)

    return handle
