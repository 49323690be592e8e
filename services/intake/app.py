"""The intake service's one wiring place: runtime, stores, subscriptions, events, routers."""

from __future__ import annotations

from fastapi import FastAPI

from services.intake.api import check_ins, intakes, treatment_plans
from services.intake.api.context import stores_of
from services.intake.api.refusals import install_refusal_handlers
from services.intake.handlers.on_check_in_due import on_check_in_due
from services.intake.handlers.on_session_booked import on_session_booked
from services.intake.settings import IntakeSettings
from services.intake.store import COLLECTIONS
from shared.events.models import (
    CheckInCompleted,
    CheckInDue,
    IntakeCompleted,
    RiskFlagged,
    SessionBooked,
    TreatmentPlanUpdated,
)
from shared.http.app import create_service_app
from shared.messaging.subscriptions import Subscription
from shared.runtime import ServiceRuntime

DESCRIPTION = """The client's clinical record: intakes at the client's own pace, PHQ-9/GAD-7
scoring and the C-SSRS risk screen, the versioned treatment plan, and check-ins measured
against the intake baseline. Free text is encrypted at rest and every read is audited."""


def build_app(settings: IntakeSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime(settings or IntakeSettings())
    for collection in COLLECTIONS:
        runtime.documents(collection)
    stores = stores_of(runtime)
    runtime.subscribe(
        Subscription(CheckInDue, on_check_in_due(stores, runtime.clock)),
        Subscription(SessionBooked, on_session_booked(stores)),
    )
    runtime.produces(RiskFlagged, IntakeCompleted, TreatmentPlanUpdated, CheckInCompleted)
    app = create_service_app(
        runtime,
        [intakes.router, treatment_plans.router, check_ins.router],
        title="Carepath intake",
        description=DESCRIPTION,
    )
    install_refusal_handlers(app)
    return app
