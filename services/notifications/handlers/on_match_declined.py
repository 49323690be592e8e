"""`match-declined` → the client hears other therapists will be proposed."""

from __future__ import annotations

from services.notifications.commands.dispatch import Dispatch
from services.notifications.commands.notify import announce
from services.notifications.domain import audience
from shared.events.envelope import Envelope
from shared.events.models import MatchDeclined
from shared.messaging.subscriptions import Handler


def on_match_declined(dispatch: Dispatch) -> Handler:
    async def handle(event: MatchDeclined, envelope: Envelope) -> None:
        """Tell the client other therapists will be proposed."""
        await announce(dispatch, audience.match_declined(event), event, envelope)

    return handle
