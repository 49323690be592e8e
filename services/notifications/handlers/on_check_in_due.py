"""`check-in-due` → the client is asked to check in."""

from __future__ import annotations

from services.notifications.commands.dispatch import Dispatch
from services.notifications.commands.notify import announce
from services.notifications.domain import audience
from shared.events.envelope import Envelope
from shared.events.models import CheckInDue
from shared.messaging.subscriptions import Handler


def on_check_in_due(dispatch: Dispatch) -> Handler:
    async def handle(event: CheckInDue, envelope: Envelope) -> None:
        """Ask the client to answer their check-in."""
        await announce(dispatch, audience.check_in_due(event), event, envelope)

    return handle
