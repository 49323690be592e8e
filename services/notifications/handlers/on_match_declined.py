"""`match-declined` → the client hears other therapists will be proposed."""

from __future__ import annotations

from services.notifications.commands.notify import Notify, notify
from services.notifications.context import NotificationsContext
from services.notifications.domain import audience
from shared.events.envelope import Envelope
from shared.events.models import MatchDeclined
from shared.messaging.subscriptions import Handler


def on_match_declined(ctx: NotificationsContext) -> Handler:
    async def handle(event: MatchDeclined, envelope: Envelope) -> None:
        """Tell the client other therapists will be proposed."""
        await notify(Notify.answering(audience.match_declined(event), event, envelope), ctx)

    return handle
