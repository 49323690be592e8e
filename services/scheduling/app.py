"""The scheduling service, wired in one place: runtime, context, subscriptions, timers, routers.

app = build_app(SchedulingSettings())       # or python -m services.scheduling
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from services.scheduling import timers
from services.scheduling.api import availability, calendars, data_rights, sessions
from services.scheduling.context import SchedulingContext
from services.scheduling.domain.policy import Policy
from services.scheduling.handlers.on_check_in_timer import on_check_in_timer
from services.scheduling.handlers.on_match_accepted import on_match_accepted
from services.scheduling.handlers.on_match_declined import on_match_declined
from services.scheduling.handlers.on_match_proposed import on_match_proposed
from services.scheduling.handlers.on_series_timer import on_series_timer
from services.scheduling.handlers.on_treatment_plan_updated import on_treatment_plan_updated
from services.scheduling.settings import SchedulingSettings
from services.scheduling.store import (
    CALENDAR_FEEDS,
    CLIENTS,
    SESSION_REFS,
    SLOT_CLAIMS,
    THERAPIST_SESSIONS,
    THERAPISTS,
    SchedulingStores,
)
from services.scheduling.store.client_data import client_data
from shared.clock import domain_span
from shared.data_rights import ERASURES
from shared.events.models import (
    BookingFailed,
    CheckInDue,
    MatchAccepted,
    MatchDeclined,
    MatchProposed,
    SessionAttendanceRecorded,
    SessionBooked,
    SessionCancelled,
    SessionRescheduled,
    TherapistAvailabilityChanged,
    TreatmentPlanUpdated,
)
from shared.http.app import create_service_app
from shared.messaging.subscriptions import Subscription
from shared.ports import Clock
from shared.runtime import ServiceRuntime


def policy_of(settings: SchedulingSettings, clock: Clock) -> Policy:
    return Policy(
        video_base_url=settings.video_base_url,
        book_at_once=settings.booking_policy == "book_at_once",
        series_horizon=timedelta(days=settings.series_horizon_days),
        series_extend_every=timedelta(days=settings.series_extend_days),
        series_max_shift=timedelta(days=settings.series_max_shift_days),
        late_cancel_window=timedelta(hours=settings.late_cancel_hours),
        # How long a booking may take is machinery, real seconds even on a demo clock.
        claim_orphan_grace=domain_span(clock, settings.claim_orphan_grace_seconds),
    )


def build_app(settings: SchedulingSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or SchedulingSettings()
    runtime = ServiceRuntime(settings, clock=clock)
    stores = SchedulingStores(
        # Revision-checked (no leases, documents.py): written one document at a time. A client's
        # care is held across a booking (`store/clients.py`), and slot claims are leased claims.
        therapists=runtime.documents(THERAPISTS, revision_checked=True),
        clients=runtime.documents(CLIENTS),
        therapist_sessions=runtime.documents(THERAPIST_SESSIONS, revision_checked=True),
        session_refs=runtime.documents(SESSION_REFS, revision_checked=True),
        slot_claims=runtime.documents(SLOT_CLAIMS),
        calendar_feeds=runtime.documents(CALENDAR_FEEDS, relayed=False),
        timers=runtime.timers,
    )
    ctx = SchedulingContext(stores, policy_of(settings, runtime.clock), runtime.clock)
    runtime.subscribe(
        Subscription(MatchProposed, on_match_proposed(ctx)),
        Subscription(MatchAccepted, on_match_accepted(ctx)),
        Subscription(MatchDeclined, on_match_declined(ctx)),
        Subscription(TreatmentPlanUpdated, on_treatment_plan_updated(ctx)),
    )
    runtime.on_timer(timers.SERIES, on_series_timer(ctx))
    runtime.on_timer(timers.CHECK_IN, on_check_in_timer(ctx))
    runtime.produces(
        SessionBooked,
        SessionRescheduled,
        SessionCancelled,
        SessionAttendanceRecorded,
        BookingFailed,
        CheckInDue,
        TherapistAvailabilityChanged,
    )
    app = create_service_app(
        runtime,
        [availability.router, sessions.router, calendars.router, data_rights.router],
        title="Carepath scheduling",
        description=(
            "Therapist availability across time zones, race-proof booking within the client's "
            "consent, attendance, the recurring series and check-ins from the plan, changes under "
            "the cancellation policy, durable timers and iCalendar feeds; access follows the care "
            "relationship."
        ),
        context=ctx,
    )
    app.state.data_rights = client_data(
        ctx,
        audit=runtime.documents("audit", relayed=False),
        erasures=runtime.documents(ERASURES, relayed=False),
    )
    return app
