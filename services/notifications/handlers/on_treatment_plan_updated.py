"""`treatment-plan-updated` → the client hears a plan version is ready to read and acknowledge."""

from __future__ import annotations

from services.notifications.commands.notify import Notify, notify
from services.notifications.context import NotificationsContext
from services.notifications.domain import audience
from shared.events.envelope import Envelope
from shared.events.models import TreatmentPlanUpdated
from shared.messaging.subscriptions import Handler


def on_treatment_plan_updated(ctx: NotificationsContext) -> Handler:
    async def handle(event: TreatmentPlanUpdated, envelope: Envelope) -> None:
        """Tell the client their treatment plan has a version to read (and acknowledge)."""
        await notify(Notify.answering(audience.treatment_plan_updated(event), event, envelope), ctx)

    return handle
