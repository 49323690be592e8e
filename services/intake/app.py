"""The intake service's one wiring place: runtime, stores, subscriptions, timers, events, routers."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from services.intake.api import check_ins, intakes, referrals, treatment_plans
from services.intake.api.context import stores_of
from services.intake.api.refusals import install_refusal_handlers
from services.intake.handlers.on_check_in_due import CHECK_IN_EXPIRY, on_check_in_due
from services.intake.handlers.on_check_in_expiry import on_check_in_expiry
from services.intake.handlers.on_match_accepted import on_match_accepted
from services.intake.handlers.on_match_declined import on_match_declined
from services.intake.handlers.on_match_proposed import on_match_proposed
from services.intake.handlers.on_session_attendance_recorded import on_session_attendance_recorded
from services.intake.handlers.on_session_booked import on_session_booked
from services.intake.settings import IntakeSettings
from services.intake.store import COLLECTIONS
from shared.events.models import (
    CheckInCompleted,
    CheckInDue,
    CheckInMissed,
    IntakeCompleted,
    MatchAccepted,
    MatchDeclined,
    MatchProposed,
    RiskFlagged,
    SessionAttendanceRecorded,
    SessionBooked,
    TreatmentPlanUpdated,
)
from shared.http.app import create_service_app
from shared.messaging.subscriptions import Subscription
from shared.runtime import ServiceRuntime

DESCRIPTION = """The client's clinical record: intakes at the client's own pace, PHQ-9/GAD-7
scoring and the C-SSRS risk screen, the versioned treatment plan, and check-ins measured
against the intake baseline. Access follows the client's care relationship with each
therapist (proposed: the referral summary; chosen or in care: the record; only the
therapist in care writes the plan). Free text is encrypted at rest and every read and
refusal is audited."""


def build_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(settings)
    for collection in COLLECTIONS:
        runtime.documents(collection)
    stores = stores_of(runtime)
    expiry = timedelta(days=settings.check_in_expiry_days)
    runtime.subscribe(
        Subscription(CheckInDue, on_check_in_due(stores, runtime.clock, runtime.timers, expiry=expiry)),
        Subscription(MatchProposed, on_match_proposed(stores)),
        Subscription(MatchAccepted, on_match_accepted(stores)),
        Subscription(MatchDeclined, on_match_declined(stores)),
        Subscription(SessionBooked, on_session_booked(stores)),
        Subscription(SessionAttendanceRecorded, on_session_attendance_recorded(stores)),
    )
    runtime.on_timer(CHECK_IN_EXPIRY, on_check_in_expiry(stores, runtime.clock, expiry=expiry))
    runtime.produces(RiskFlagged, IntakeCompleted, TreatmentPlanUpdated, CheckInCompleted, CheckInMissed)
    app = create_service_app(
        runtime,
        [intakes.router, referrals.router, treatment_plans.router, check_ins.router],
        title="Carepath intake",
        description=DESCRIPTION,
    )
    install_refusal_handlers(app)
    return app
