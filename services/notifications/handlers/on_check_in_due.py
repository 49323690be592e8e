"""`check-in-due` → the client is asked to check in, and reminded once if still unanswered."""

from __future__ import annotations

from services.notifications.commands.check_ins import OpenCheckIn, open_check_in
from services.notifications.context import NotificationsContext
from shared.events.envelope import Envelope
from shared.events.models import CheckInDue
from shared.messaging.subscriptions import Handler


def on_check_in_due(ctx: NotificationsContext) -> Handler:
    async def handle(event: CheckInDue, envelope: Envelope) -> None:
        """Ask the client to answer their check-in and set its reminder (unless it closed already)."""
        await open_check_in(OpenCheckIn(event, envelope), ctx)

    return handle
