"""treatment-plan-updated: a completed plan ends care, and frees the therapist's place."""

from __future__ import annotations

from services.matching.context import Matching
from services.matching.store import clients as client_state
from services.matching.store.therapists import end_care
from shared.events.common import PlanStatus
from shared.events.envelope import Envelope
from shared.events.models import TreatmentPlanUpdated
from shared.messaging.subscriptions import Handler


def on_treatment_plan_updated(matching: Matching) -> Handler:
    async def handle(event: TreatmentPlanUpdated, envelope: Envelope) -> None:
        """Takes the client out of the therapist's caseload when their plan is completed."""
        if event.status is not PlanStatus.completed:
            return
        now = matching.clock()
        await matching.change_therapists([(event.therapist_id, end_care(event.client_id, now))])
        await matching.clients.update(
            event.client_id, client_state.in_care_with(None, now, only_if=event.therapist_id)
        )

    return handle
