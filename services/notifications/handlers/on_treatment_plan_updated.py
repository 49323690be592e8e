"""`treatment-plan-updated` → the client hears a plan version is ready to read and acknowledge."""

from __future__ import annotations

from services.notifications.commands.dispatch import Dispatch
from services.notifications.commands.notify import announce
from services.notifications.domain import audience
from shared.events.envelope import Envelope
from shared.events.models import TreatmentPlanUpdated
from shared.messaging.subscriptions import Handler


def on_treatment_plan_updated(dispatch: Dispatch) -> Handler:
    async def handle(event: TreatmentPlanUpdated, envelope: Envelope) -> None:
        """Tell the client their treatment plan has a version to read (and acknowledge)."""
        await announce(dispatch, audience.treatment_plan_updated(event), event, envelope)

    return handle
