"""`match-proposed` → the client hears their matches are ready (or that the search goes on)."""

from __future__ import annotations

from services.notifications.commands.dispatch import Dispatch
from services.notifications.commands.notify import announce
from services.notifications.domain import audience
from shared.events.envelope import Envelope
from shared.events.models import MatchProposed
from shared.messaging.subscriptions import Handler


def on_match_proposed(dispatch: Dispatch) -> Handler:
    async def handle(event: MatchProposed, envelope: Envelope) -> None:
        """Tell the client their therapist matches are ready."""
        await announce(dispatch, audience.match_proposed(event), event, envelope)

    return handle
