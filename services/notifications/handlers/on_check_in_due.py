"""`check-in-due` → the client is asked to check in, and reminded once if still unanswered."""

from __future__ import annotations

from services.notifications.commands.check_in_reminders import open_check_in
from services.notifications.commands.dispatch import Dispatch
from services.notifications.commands.notify import announce
from services.notifications.domain import audience
from shared.events.envelope import Envelope
from shared.events.models import CheckInDue
from shared.messaging.subscriptions import Handler


def on_check_in_due(dispatch: Dispatch) -> Handler:
    async def handle(event: CheckInDue, envelope: Envelope) -> None:
        """Ask the client to answer their check-in and set its reminder (unless it closed already)."""
        if await open_check_in(dispatch, event, envelope):
            await announce(dispatch, audience.check_in_due(event), event, envelope)

    return handle
