"""The intake service's one wiring place: runtime, context, subscriptions, timers, events, routers."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from services.intake import timers
from services.intake.api import check_ins, data_rights, intakes, referrals, treatment_plans
from services.intake.context import IntakeContext
from services.intake.handlers.on_check_in_due import on_check_in_due
from services.intake.handlers.on_check_in_expiry_timer import on_check_in_expiry_timer
from services.intake.handlers.on_match_accepted import on_match_accepted
from services.intake.handlers.on_match_declined import on_match_declined
from services.intake.handlers.on_match_proposed import on_match_proposed
from services.intake.handlers.on_session_attendance_recorded import on_session_attendance_recorded
from services.intake.handlers.on_session_booked import on_session_booked
from services.intake.settings import IntakeSettings
from services.intake.store import CHECK_INS, CLIENTS, INTAKES, TREATMENT_PLANS
from services.intake.store.client_data import client_data
from shared.data_rights import ERASURES
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
from shared.security import client_keys

DESCRIPTION = """The client's clinical record: intakes at the client's own pace, PHQ-9/GAD-7
scoring and the C-SSRS risk screen, the versioned treatment plan, and check-ins measured
against the intake baseline. Access follows the client's care relationship with each
therapist (proposed: the referral summary; chosen or in care: the record; only the
therapist in care writes the plan). Free text is encrypted at rest and every read and
refusal is audited."""


def build_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(settings)
    # Each document is written alone, never in a block with others: no leases (documents.py).
    ctx = IntakeContext(
        clients=runtime.documents(CLIENTS, revision_checked=True),
        intakes=runtime.documents(INTAKES, revision_checked=True),
        plans=runtime.documents(TREATMENT_PLANS, revision_checked=True),
        check_ins=runtime.documents(CHECK_INS, revision_checked=True),
        timers=runtime.timers,
        clock=runtime.clock,
        cipher_of=lambda: runtime.cipher,  # on first use: building the app needs no keys
        served_countries=tuple(settings.served_countries),
        check_in_expiry=timedelta(days=settings.check_in_expiry_days),
        client_keys=client_keys.ClientKeys(
            runtime.documents(client_keys.COLLECTION, relayed=False), lambda: runtime.cipher
        ),
    )
    runtime.subscribe(
        Subscription(CheckInDue, on_check_in_due(ctx)),
        Subscription(MatchProposed, on_match_proposed(ctx)),
        Subscription(MatchAccepted, on_match_accepted(ctx)),
        Subscription(MatchDeclined, on_match_declined(ctx)),
        Subscription(SessionBooked, on_session_booked(ctx)),
        Subscription(SessionAttendanceRecorded, on_session_attendance_recorded(ctx)),
    )
    runtime.on_timer(timers.CHECK_IN_EXPIRY, on_check_in_expiry_timer(ctx))
    runtime.produces(RiskFlagged, IntakeCompleted, TreatmentPlanUpdated, CheckInCompleted, CheckInMissed)
    app = create_service_app(
        runtime,
        [intakes.router, referrals.router, treatment_plans.router, check_ins.router, data_rights.router],
        title="Carepath intake",
        description=DESCRIPTION,
        context=ctx,
    )
    app.state.data_rights = client_data(
        ctx,
        audit=runtime.documents("audit", relayed=False),
        erasures=runtime.documents(ERASURES, relayed=False),
    )
    return app
