"""treatment-plan-updated: a completed plan ends care, and frees the therapist's place.

The completion is folded into the client's care relationships (the therapist is *ended*:
404 on the client's matches from then on), the client leaves the therapist's caseload, and
the place freed re-matches the waitlist. Other plan versions change nothing here.
"""

from __future__ import annotations

from services.matching.commands.rematch_waitlist import rematch_waitlist
from services.matching.commands.update_client import update_client
from services.matching.context import Matching
from services.matching.store import clients as client_state
from services.matching.store.therapists import end_care
from shared.events.common import PlanStatus
from shared.events.envelope import Envelope
from shared.events.models import TreatmentPlanUpdated
from shared.messaging.subscriptions import Handler


def on_treatment_plan_updated(matching: Matching) -> Handler:
    async def handle(event: TreatmentPlanUpdated, envelope: Envelope) -> None:
        """Ends care when the plan is completed: caseload, care relationships, waitlist."""
        if event.status is not PlanStatus.completed:
            return
        now = matching.clock()
        await matching.change_therapists([(event.therapist_id, end_care(event.client_id, now))])
        change = client_state.both(
            client_state.in_care_with(None, now, only_if=event.therapist_id),
            client_state.fold([(event, envelope.time)], now),
        )
        await update_client(matching, event.client_id, change, cause=envelope)
        await rematch_waitlist(matching, [event.therapist_id], cause=envelope)

    return handle
