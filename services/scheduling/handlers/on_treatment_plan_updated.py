"""`treatment-plan-updated`: keep the series and check-ins on the plan (see `commands/follow_plan.py`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.scheduling.commands.context import Scheduling
from services.scheduling.commands.follow_plan import follow_plan
from shared.events.envelope import Envelope
from shared.events.models import TreatmentPlanUpdated


def on_treatment_plan_updated(ctx: Scheduling) -> Callable[[TreatmentPlanUpdated, Envelope], Awaitable[None]]:
    async def handle(event: TreatmentPlanUpdated, envelope: Envelope) -> None:
        """Follow the plan's cadence, check-in interval and status."""
        await follow_plan(ctx, event, envelope)

    return handle
