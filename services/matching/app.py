"""The one place matching is wired: runtime, context, subscriptions, timer, routers.

    settings = MatchingSettings()
    app = build_app(settings)          # served by `python -m services.matching`

Collections (database `carepath_matching`), each read on its hot path by a lone `_id`:
`therapists` (therapist_id), `proposals` (match_id), `clients` (client_id), `outcomes`
(`<therapist_id>:<concern>`), `directory` (the journal's entries, `j:<version>`), `waitlist` (the one
`waitlist` document), plus the runtime's own (`timers`, `inbox`, `locks`, `audit`, `replicas`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from services.matching import timers
from services.matching.api import data_rights, matches, therapists
from services.matching.context import MatchingContext, Policy
from services.matching.handlers.on_booking_failed import on_booking_failed
from services.matching.handlers.on_check_in_completed import on_check_in_completed
from services.matching.handlers.on_intake_completed import on_intake_completed
from services.matching.handlers.on_proposal_expiry_timer import on_proposal_expiry_timer
from services.matching.handlers.on_session_attendance_recorded import on_session_attendance_recorded
from services.matching.handlers.on_session_booked import on_session_booked
from services.matching.handlers.on_session_cancelled import on_session_cancelled
from services.matching.handlers.on_therapist_availability_changed import on_therapist_availability_changed
from services.matching.handlers.on_treatment_plan_updated import on_treatment_plan_updated
from services.matching.settings import MatchingSettings
from services.matching.store import clients, journal, outcomes, proposals, waitlist
from services.matching.store import therapists as therapist_store
from services.matching.store.client_data import client_data
from services.matching.store.read_model import Directory
from shared.clock import domain_span
from shared.data_rights import ERASURES
from shared.events.models import (
    BookingFailed,
    CheckInCompleted,
    IntakeCompleted,
    MatchAccepted,
    MatchDeclined,
    MatchProposed,
    SessionAttendanceRecorded,
    SessionBooked,
    SessionCancelled,
    TherapistAvailabilityChanged,
    TreatmentPlanUpdated,
)
from shared.http.app import create_service_app
from shared.messaging.subscriptions import Subscription
from shared.runtime import ServiceRuntime

Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]

DESCRIPTION = (
    "Therapist directory and explainable, outcome-informed matching: hard constraints honoured "
    "without exception, a per-factor score with reasons for every candidate, capacity held "
    "while a proposal is open."
)


def build_app(settings: MatchingSettings | None = None) -> FastAPI:
    settings = settings or MatchingSettings()
    runtime = ServiceRuntime(settings)
    ctx = matching_context(runtime, settings)
    runtime.subscribe(
        Subscription(IntakeCompleted, on_intake_completed(ctx)),
        Subscription(TherapistAvailabilityChanged, on_therapist_availability_changed(ctx)),
        Subscription(SessionBooked, on_session_booked(ctx)),
        Subscription(SessionCancelled, on_session_cancelled(ctx)),
        Subscription(SessionAttendanceRecorded, on_session_attendance_recorded(ctx)),
        Subscription(CheckInCompleted, on_check_in_completed(ctx)),
        Subscription(BookingFailed, on_booking_failed(ctx)),
        Subscription(TreatmentPlanUpdated, on_treatment_plan_updated(ctx)),
    )
    runtime.on_timer(timers.PROPOSAL_EXPIRY, on_proposal_expiry_timer(ctx))
    runtime.produces(MatchProposed, MatchAccepted, MatchDeclined)
    app = create_service_app(
        runtime,
        [therapists.router, matches.router, data_rights.router],
        title="Carepath matching",
        description=DESCRIPTION,
        context=ctx,
    )
    app.state.data_rights = client_data(
        ctx,
        audit=runtime.documents("audit", relayed=False),
        erasures=runtime.documents(ERASURES, relayed=False),
    )
    app.router.lifespan_context = _loading_the_directory(app.router.lifespan_context, ctx)
    return app


def _loading_the_directory(lifespan: Lifespan, ctx: MatchingContext) -> Lifespan:
    """The app's lifespan, plus the read model's load started in the background once the
    runtime runs (not awaited: a large directory must not hold up liveness)."""

    @asynccontextmanager
    async def lifespan_with_directory(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app):
            loading = asyncio.create_task(ctx.directory.warm_up(), name="directory-load")
            try:
                yield
            finally:
                loading.cancel()
                with suppress(asyncio.CancelledError):
                    await loading

    return lifespan_with_directory


def matching_context(runtime: ServiceRuntime, settings: MatchingSettings) -> MatchingContext:
    """Matching's stores (registered on `runtime`), read model, timers, clock and policy."""
    # Only proposals carry events (their outbox); the relay's sweep skips the rest.
    # Therapists and outcomes are written one document at a time (never held with a client's):
    # no leases, revision-checked (documents.py). Clients and proposals are held together.
    therapist_documents = runtime.documents(therapist_store.COLLECTION, relayed=False, revision_checked=True)
    outcome_documents = runtime.documents(outcomes.COLLECTION, relayed=False, revision_checked=True)
    return MatchingContext(
        therapists=therapist_documents,
        proposals=runtime.documents(proposals.COLLECTION),
        clients=runtime.documents(clients.COLLECTION, relayed=False),
        outcomes=outcome_documents,
        waitlist=runtime.documents(waitlist.COLLECTION, relayed=False),
        directory=Directory(
            therapist_documents,
            outcome_documents,
            runtime.documents(journal.COLLECTION, relayed=False),
            instance=runtime.instance,
            clock=runtime.clock,
            outcome_prior_strength=settings.outcome_prior_strength,
            journal_length=settings.journal_length,
            # A safety net's period is real time, also on a demo clock.
            reload_seconds=domain_span(runtime.clock, settings.directory_reload_seconds).total_seconds(),
        ),
        timers=runtime.timers,
        clock=runtime.clock,
        policy=Policy(
            top_k=settings.top_k,
            directory_freshness_seconds=settings.directory_freshness_seconds,
            proposal_ttl=timedelta(seconds=settings.proposal_ttl_seconds),
            max_proposals_per_intake=settings.max_proposals_per_intake,
            waitlist_rematch_per_trigger=settings.waitlist_rematch_per_trigger,
            weights=settings.weights.as_dict(),
            source=settings.service_name,
        ),
    )
