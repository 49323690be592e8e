"""`check-in-completed` → no reminder any more; the therapist is alerted on reliable deterioration
or a suggested plan review."""

from __future__ import annotations

from services.notifications.commands.check_in_reminders import close_check_in
from services.notifications.commands.dispatch import Dispatch
from services.notifications.commands.notify import announce
from services.notifications.domain import audience
from services.notifications.domain.check_ins import CheckInStatus
from shared.events.envelope import Envelope
from shared.events.models import CheckInCompleted
from shared.messaging.subscriptions import Handler


def on_check_in_completed(dispatch: Dispatch) -> Handler:
    async def handle(event: CheckInCompleted, envelope: Envelope) -> None:
        """Stop the check-in's reminder; alert the therapist when the check-in needs their attention."""
        await close_check_in(dispatch, event.check_in_id, event.client_id, CheckInStatus.completed, envelope)
        await announce(dispatch, audience.check_in_completed(event), event, envelope)

    return handle
