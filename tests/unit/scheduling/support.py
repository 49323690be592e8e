"""Builders for scheduling's unit tests: events as matching and intake send them, the client's
choices and the therapist's attendance, timers to fire.

Events are stamped with the test clock's time (`ce_time`): the care relationships order
what they fold by it, as they would the real events of one journey.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from services.scheduling import timers
from services.scheduling.commands.record_attendance import RecordAttendance, record_attendance
from services.scheduling.commands.set_availability import SetAvailability, set_availability
from services.scheduling.context import SchedulingContext
from services.scheduling.domain.care import Attendance, Care, Session, SessionKind
from services.scheduling.handlers.on_check_in_timer import on_check_in_timer
from services.scheduling.handlers.on_match_accepted import on_match_accepted
from services.scheduling.handlers.on_match_declined import on_match_declined
from services.scheduling.handlers.on_match_proposed import on_match_proposed
from services.scheduling.handlers.on_series_timer import on_series_timer
from services.scheduling.handlers.on_treatment_plan_updated import on_treatment_plan_updated
from services.scheduling.store.care_documents import care_from_document
from shared.events.common import Candidate, PlanStatus, SessionCadence, WeeklyWindow
from shared.events.envelope import Envelope, OutgoingEvent, new_event
from shared.events.models import MatchAccepted, MatchDeclined, MatchProposed, TreatmentPlanUpdated
from shared.storage.timers import Timer
from tests.support.fakes import InMemoryDocuments, InMemoryTimers, ManualClock


def introduction_at(starts_at: datetime, **changes: Any) -> Session:
    """A booked 50-minute video introduction of client c-1 with therapist t-1 at `starts_at`, busy
    for exactly its span, in UTC; `changes` replace any field (as given: a new start moves no end)."""
    base = Session(
        session_id="s-1",
        client_id="c-1",
        therapist_id="t-1",
        series_id="ser-1",
        sequence=1,
        kind=SessionKind.introduction,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=50),
        busy_from=starts_at,
        busy_to=starts_at + timedelta(minutes=50),
        timezone="UTC",
        therapist_timezone="UTC",
        format="video",
        join_url="https://meet.example/r",
    )
    return replace(base, **changes)


def proposed(
    client_id: str,
    therapist_ids: Sequence[str],
    *,
    match_id: str = "match-1",
    timezone: str | None = "America/New_York",
    windows: Sequence[tuple[str, str, str]] = (("mon", "09:00", "17:00"), ("tue", "09:00", "17:00")),
    now: datetime,
) -> MatchProposed:
    return MatchProposed(
        match_id=match_id,
        client_id=client_id,
        intake_id="intake-1",
        candidates=[
            Candidate(therapist_id=t, rank=i + 1, score=0.9 - i / 10) for i, t in enumerate(therapist_ids)
        ],
        expires_at=now + timedelta(days=2),
        timezone=timezone,
        availability=[WeeklyWindow(day=d, start=s, end=e) for d, s, e in windows],  # type: ignore[arg-type]
    )


def accepted(client_id: str, therapist_id: str, *, match_id: str = "match-1", now: datetime) -> MatchAccepted:
    return MatchAccepted(match_id=match_id, client_id=client_id, therapist_id=therapist_id, accepted_at=now)


def plan(
    client_id: str,
    *,
    version: int,
    status: PlanStatus = PlanStatus.active,
    cadence: SessionCadence = SessionCadence.weekly,
    interval: int = 14,
    therapist_id: str = "t-1",
    now: datetime,
) -> TreatmentPlanUpdated:
    return TreatmentPlanUpdated(
        client_id=client_id,
        therapist_id=therapist_id,
        version=version,
        status=status,
        approach="cbt",  # type: ignore[arg-type]
        session_cadence=cadence,
        check_in_interval_days=interval,
        updated_at=now,
    )


def envelope(data: Any, now: datetime) -> Envelope:
    """`data`'s envelope as its producer would send it at `now`."""
    return new_event(data, source="tests", now=now).envelope


async def propose(
    ctx: SchedulingContext, client_id: str, therapist_ids: Sequence[str], **kwargs: Any
) -> MatchProposed:
    """Matching proposes `therapist_ids` (now, expiring in two days)."""
    event = proposed(client_id, therapist_ids, now=ctx.now(), **kwargs)
    await on_match_proposed(ctx)(event, envelope(event, ctx.now()))
    return event


async def accept(
    ctx: SchedulingContext, client_id: str, therapist_id: str, *, match_id: str = "match-1"
) -> None:
    """The client accepts `therapist_id` (matching's `match-accepted`)."""
    event = accepted(client_id, therapist_id, match_id=match_id, now=ctx.now())
    await on_match_accepted(ctx)(event, envelope(event, ctx.now()))


async def decline(
    ctx: SchedulingContext, client_id: str, therapist_id: str | None, *, match_id: str = "match-1"
) -> None:
    event = MatchDeclined(
        match_id=match_id, client_id=client_id, therapist_id=therapist_id, declined_at=ctx.now()
    )
    await on_match_declined(ctx)(event, envelope(event, ctx.now()))


async def follow(ctx: SchedulingContext, update: TreatmentPlanUpdated) -> None:
    """Intake's `treatment-plan-updated` arrives."""
    await on_treatment_plan_updated(ctx)(update, envelope(update, ctx.now()))


async def attend(
    ctx: SchedulingContext,
    clock: ManualClock,
    session: Session,
    attendance: Attendance = Attendance.held,
    *,
    by: Any = "clinician",
) -> Session:
    """The therapist records the session's attendance once it has started (the clock moves there)."""
    clock.now = max(clock.now, session.starts_at)
    return await record_attendance(RecordAttendance(session, attendance, by=by), ctx)


async def introduced(
    ctx: SchedulingContext, clock: ManualClock, client_id: str = "c-1", therapist_id: str = "t-1"
) -> Session:
    """A client in care: proposed, accepted, the introduction held (the clock at its start)."""
    await propose(ctx, client_id, [therapist_id])
    await accept(ctx, client_id, therapist_id)
    [intro] = (await care(ctx, client_id)).upcoming(clock.now, therapist_id)
    return await attend(ctx, clock, intro)


async def available(ctx: SchedulingContext, therapist_id: str, spec: dict[str, Any]) -> None:
    await set_availability(SetAvailability(therapist_id, spec), ctx)


def events(ctx: SchedulingContext, name: str) -> list[OutgoingEvent]:
    """Every event of topic `name` written so far (any collection's outbox)."""
    written: list[OutgoingEvent] = []
    for store in (ctx.stores.clients, ctx.stores.therapists):
        assert isinstance(store, InMemoryDocuments)
        written.extend(store.events)
    return [e for e in written if e.topic == name]


async def care(ctx: SchedulingContext, client_id: str) -> Care:
    document = await ctx.stores.clients.get(client_id)
    assert document is not None
    return care_from_document(document)


async def fire_due(ctx: SchedulingContext, now: datetime) -> list[OutgoingEvent]:
    """Fire every pending timer due by `now`, as the timer worker would; return their events."""
    store = ctx.stores.timers
    assert isinstance(store, InMemoryTimers)
    fired: list[OutgoingEvent] = []
    handlers = {timers.SERIES: on_series_timer(ctx), timers.CHECK_IN: on_check_in_timer(ctx)}
    while due := sorted(
        ((i, t) for i, t in store.pending().items() if t.due_at <= now), key=lambda item: item[1].due_at
    ):
        timer_id, fake = due[0]
        timer = Timer(timer_id, fake.kind, fake.due_at, 1, fake.payload)
        fired.extend(await handlers[fake.kind](timer))
        fake.status = fake.status.fired
    return fired
