"""`match-proposed` → the client hears their matches are ready (or that the search goes on)."""

from __future__ import annotations

from services.notifications.commands.notify import Notify, notify
from services.notifications.context import NotificationsContext
from services.notifications.domain import audience
from shared.events.envelope import Envelope
from shared.events.models import MatchProposed
from shared.messaging.subscriptions import Handler


def on_match_proposed(ctx: NotificationsContext) -> Handler:
    async def handle(event: MatchProposed, envelope: Envelope) -> None:
        """Tell the client their therapist matches are ready."""
        await notify(Notify.answering(audience.match_proposed(event), event, envelope), ctx)

    return handle
