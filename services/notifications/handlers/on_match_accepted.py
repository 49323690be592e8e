"""`match-accepted` → the client's choice of therapist is confirmed."""

from __future__ import annotations

from services.notifications.commands.notify import Notify, notify
from services.notifications.context import NotificationsContext
from services.notifications.domain import audience
from shared.events.envelope import Envelope
from shared.events.models import MatchAccepted
from shared.messaging.subscriptions import Handler


def on_match_accepted(ctx: NotificationsContext) -> Handler:
    async def handle(event: MatchAccepted, envelope: Envelope) -> None:
        """Confirm the client's choice; booking follows."""
        await notify(Notify.answering(audience.match_accepted(event), event, envelope), ctx)

    return handle
