"""treatment-plan-updated: a completed plan ends care, and frees the therapist's place.

The completion ends care (`commands/end_care.py`), folded into the client's care
relationships (the therapist is *ended*). Other plan versions change nothing here.
"""

from __future__ import annotations

from services.matching.commands.end_care import EndCare, end_care
from services.matching.context import MatchingContext
from shared.events.common import PlanStatus
from shared.events.envelope import Envelope
from shared.events.models import TreatmentPlanUpdated
from shared.messaging.subscriptions import Handler


def on_treatment_plan_updated(ctx: MatchingContext) -> Handler:
    async def handle(event: TreatmentPlanUpdated, envelope: Envelope) -> None:
        """Ends care when the plan is completed: caseload, care relationships, waitlist."""
        if event.status is PlanStatus.completed:
            await end_care(EndCare(event.client_id, event.therapist_id, envelope, ending=event), ctx)

    return handle
