"""`treatment-plan-updated`: keep the series and check-ins on the plan (`commands/follow_plan.py`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.scheduling.commands.follow_plan import FollowPlan, follow_plan
from services.scheduling.context import SchedulingContext
from shared.events.envelope import Envelope
from shared.events.models import TreatmentPlanUpdated


def on_treatment_plan_updated(
    ctx: SchedulingContext,
) -> Callable[[TreatmentPlanUpdated, Envelope], Awaitable[None]]:
    async def handle(event: TreatmentPlanUpdated, envelope: Envelope) -> None:
        """Follow the plan's cadence, check-in interval and status."""
        await follow_plan(FollowPlan(event, envelope), ctx)

    return handle
