"""`match-accepted` → the client's choice of therapist is confirmed."""

from __future__ import annotations

from services.notifications.commands.dispatch import Dispatch
from services.notifications.commands.notify import announce
from services.notifications.domain import audience
from shared.events.envelope import Envelope
from shared.events.models import MatchAccepted
from shared.messaging.subscriptions import Handler


def on_match_accepted(dispatch: Dispatch) -> Handler:
    async def handle(event: MatchAccepted, envelope: Envelope) -> None:
        """Confirm the client's choice; booking follows."""
        await announce(dispatch, audience.match_accepted(event), event, envelope)

    return handle
