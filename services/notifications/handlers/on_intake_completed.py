"""`intake-completed` → the client hears their intake arrived and matching is under way."""

from __future__ import annotations

from services.notifications.commands.notify import Notify, notify
from services.notifications.context import NotificationsContext
from services.notifications.domain import audience
from shared.events.envelope import Envelope
from shared.events.models import IntakeCompleted
from shared.messaging.subscriptions import Handler


def on_intake_completed(ctx: NotificationsContext) -> Handler:
    async def handle(event: IntakeCompleted, envelope: Envelope) -> None:
        """Tell the client their intake arrived."""
        await notify(Notify.answering(audience.intake_completed(event), event, envelope), ctx)

    return handle
