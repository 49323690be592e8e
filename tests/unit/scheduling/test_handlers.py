"""Scheduling's event handlers and timers on the in-memory fakes: the client chooses, the plan
starts the routine, care with a former therapist ends."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from services.scheduling.context import SchedulingContext
from services.scheduling.domain.care import ProposalOutcome, SeriesStatus, SessionKind
from services.scheduling.domain.policy import Policy
from services.scheduling.handlers.on_check_in_timer import on_check_in_timer
from services.scheduling.handlers.on_match_proposed import on_match_proposed
from shared.care.relationship import CareState
from shared.events.common import PlanStatus, SessionCadence
from shared.events.models import BookingFailed, CheckInDue, SessionBooked, SessionCancelled
from shared.storage import Document
from shared.storage.timers import Timer
from tests.support.fakes import InMemoryDocuments, ManualClock
from tests.unit.scheduling.conftest import weekdays
from tests.unit.scheduling.support import (
    accept,
    attend,
    available,
    care,
    decline,
    envelope,
    events,
    fire_due,
    follow,
    introduced,
    plan,
    propose,
    proposed,
)

NEW_YORK = ZoneInfo("America/New_York")


def at_once(ctx: SchedulingContext) -> SchedulingContext:
    """The same stores and clock under the opt-in `book_at_once` policy."""
    return SchedulingContext(ctx.stores, Policy(book_at_once=True), ctx.clock)


def booked(ctx: SchedulingContext) -> list[SessionBooked]:
    return [e.data for e in events(ctx, "session-booked") if isinstance(e.data, SessionBooked)]


def cancelled(ctx: SchedulingContext) -> list[SessionCancelled]:
    return [e.data for e in events(ctx, "session-cancelled") if isinstance(e.data, SessionCancelled)]


# ---------------------------------------------------------------------- the client chooses


async def test_a_proposal_books_nothing_until_the_client_chooses(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await propose(ctx, "c-1", ["t-1", "t-2"])

    record = await care(ctx, "c-1")
    assert booked(ctx) == [] and record.sessions == ()
    assert record.relationships.state_of("t-1", clock.now) is CareState.proposed
    assert record.proposal("match-1") is not None
    assert record.proposal("match-1").outcome is ProposalOutcome.waiting  # type: ignore[union-attr]


async def test_an_acceptance_books_the_introduction_with_the_accepted_therapist(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await available(ctx, "t-2", weekdays())
    await propose(ctx, "c-1", ["t-1", "t-2"])

    await accept(ctx, "c-1", "t-2")

    [intro] = booked(ctx)
    assert (intro.therapist_id, intro.kind, intro.sequence) == ("t-2", "introduction", 1)
    assert (intro.booked_by, intro.match_id) == ("system", "match-1")
    record = await care(ctx, "c-1")
    assert record.relationships.state_of("t-2", clock.now) is CareState.chosen
    assert record.relationships.state_of("t-1", clock.now) is CareState.withdrawn
    assert record.series is None and record.check_ins is None, "nothing routine before the plan"


async def test_an_acceptance_before_its_proposal_books_the_accepted_therapist(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await available(ctx, "t-2", weekdays())
    await accept(ctx, "c-1", "t-2")

    await propose(ctx, "c-1", ["t-1", "t-2"])

    [intro] = booked(ctx)
    assert intro.therapist_id == "t-2"


async def test_a_redelivered_acceptance_books_nothing_twice(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await propose(ctx, "c-1", ["t-1"])
    await accept(ctx, "c-1", "t-1")
    clock.advance(timedelta(minutes=5))

    await accept(ctx, "c-1", "t-1")  # matching told it again (a new event)

    assert len(booked(ctx)) == 1 and len((await care(ctx, "c-1")).sessions) == 1


async def test_book_at_once_books_the_best_fitting_candidate_in_the_clients_windows_and_grants_nothing(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    ctx = at_once(ctx)
    await available(ctx, "t-evenings", weekdays("18:00", "21:00"))  # outside the client's windows
    await available(ctx, "t-days", weekdays())

    await propose(ctx, "c-1", ["t-none", "t-evenings", "t-days"])

    [intro] = booked(ctx)
    assert (intro.therapist_id, intro.sequence, intro.kind, intro.booked_by) == (
        "t-days",
        1,
        "introduction",
        "system",
    )
    assert intro.starts_at >= clock.now + timedelta(hours=24), "minimum notice"
    assert intro.join_url.startswith("https://") and len(intro.join_url.rsplit("/", 1)[1]) >= 20
    assert intro.timezone == "America/New_York"
    record = await care(ctx, "c-1")
    assert record.relationships.state_of("t-days", clock.now) is CareState.proposed, "not chosen"


async def test_accepting_the_therapist_booked_at_once_books_nothing_more(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    ctx = at_once(ctx)
    await available(ctx, "t-1", weekdays())
    await propose(ctx, "c-1", ["t-1"])

    await accept(ctx, "c-1", "t-1")

    assert len(booked(ctx)) == 1
    assert (await care(ctx, "c-1")).relationships.state_of("t-1", clock.now) is CareState.chosen


async def test_accepting_another_candidate_than_the_one_booked_at_once_moves_the_introduction(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    ctx = at_once(ctx)
    await available(ctx, "t-1", weekdays())
    await available(ctx, "t-2", weekdays())
    await propose(ctx, "c-1", ["t-1", "t-2"])
    [first] = booked(ctx)

    await accept(ctx, "c-1", "t-2")

    [gone] = cancelled(ctx)
    assert (gone.session_id, gone.reason) == (first.session_id, "therapist_switched")
    [upcoming] = (await care(ctx, "c-1")).upcoming(clock.now)
    assert upcoming.therapist_id == "t-2" and upcoming.starts_at == first.starts_at


async def test_a_redelivered_proposal_books_nothing_more(ctx: SchedulingContext, clock: ManualClock) -> None:
    ctx = at_once(ctx)
    await available(ctx, "t-1", weekdays())
    event = proposed("c-1", ["t-1"], now=clock.now)
    handle = on_match_proposed(ctx)

    await handle(event, envelope(event, clock.now))  # first delivery
    await handle(event, envelope(event, clock.now))  # matching sent the same proposal again

    assert len(booked(ctx)) == 1
    assert len((await care(ctx, "c-1")).sessions) == 1


async def test_no_fitting_slot_publishes_booking_failed_naming_every_therapist_tried(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    ctx = at_once(ctx)
    await available(ctx, "t-evenings", weekdays("18:00", "21:00"))

    await propose(ctx, "c-1", ["t-evenings", "t-unknown"])

    [failed] = [e.data for e in events(ctx, "booking-failed")]
    assert isinstance(failed, BookingFailed)
    assert failed.tried_therapist_ids == ["t-evenings", "t-unknown"]
    assert failed.reason == "no_slot_in_client_windows"
    assert booked(ctx) == []


async def test_an_accepted_therapist_for_a_client_in_london_is_met_in_the_clients_evening(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(
        ctx,
        "t-la",
        {"timezone": "America/Los_Angeles", "weekly": [{"day": "monday", "start": "09:00", "end": "12:00"}]},
    )
    await propose(ctx, "c-london", ["t-la"], timezone="Europe/London", windows=[("mon", "17:00", "20:00")])
    await accept(ctx, "c-london", "t-la")

    [intro] = booked(ctx)
    # 09:00 in Los Angeles (UTC-8) is 17:00 in London (UTC+0) on Monday 9 March 2026.
    assert intro.starts_at == datetime(2026, 3, 9, 17, 0, tzinfo=UTC)


# ---------------------------------------------------------------------- plan before routine


async def test_a_held_introduction_starts_no_series_and_no_check_ins_until_the_plan(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    intro = await introduced(ctx, clock)

    clock.now = intro.starts_at + timedelta(days=30)
    fired = await fire_due(ctx, clock.now)

    record = await care(ctx, "c-1")
    assert fired == [] and len(booked(ctx)) == 1
    assert record.series is None and record.check_ins is None
    assert record.relationships.state_of("t-1", clock.now) is CareState.in_care


async def test_the_plan_starts_the_series_at_its_cadence_on_the_introductions_wall_clock_time(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    intro = await introduced(ctx, clock)

    await follow(ctx, plan("c-1", version=1, cadence=SessionCadence.weekly, now=clock.now))
    await fire_due(ctx, clock.now)

    record = await care(ctx, "c-1")
    therapy = [s for s in record.sessions if s.kind is SessionKind.therapy]
    assert record.series is not None and record.series.status is SeriesStatus.active
    # Same wall-clock time in the therapist's zone, across the March DST change.
    local = [s.starts_at.astimezone(NEW_YORK) for s in therapy]
    first = intro.starts_at.astimezone(NEW_YORK)
    assert [(t.date() - first.date()).days for t in local] == [7, 14, 21, 28]
    assert {t.time() for t in local} == {first.time()}
    assert [s.sequence for s in therapy] == [2, 3, 4, 5]
    assert {s.series_id for s in record.sessions} == {intro.series_id}
    assert {s.booked_by for s in therapy} == {"system"}


async def test_check_ins_start_from_the_plan_and_fire_every_interval_once_per_due_date(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await introduced(ctx, clock)
    clock.advance(timedelta(hours=2))
    written = clock.now
    await follow(ctx, plan("c-1", version=1, interval=7, now=written))

    clock.now = written + timedelta(days=15)
    fired = [e.data for e in await fire_due(ctx, clock.now) if isinstance(e.data, CheckInDue)]

    assert [d.due_at - written for d in fired] == [timedelta(days=7), timedelta(days=14)]
    assert all(d.therapist_id == "t-1" for d in fired)
    assert len({d.check_in_id for d in fired}) == 2


async def test_a_plan_that_arrives_before_the_introduction_is_held_starts_the_routine_when_it_is(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await propose(ctx, "c-1", ["t-1"])
    await accept(ctx, "c-1", "t-1")
    await follow(ctx, plan("c-1", version=1, cadence=SessionCadence.biweekly, now=clock.now))
    record = await care(ctx, "c-1")
    assert record.plan is not None and record.series is None, "kept, not acted on"

    [intro] = record.upcoming(clock.now)
    await attend(ctx, clock, intro)
    await fire_due(ctx, clock.now)

    record = await care(ctx, "c-1")
    assert record.series is not None and record.series.cadence is SessionCadence.biweekly
    therapy = [s for s in record.sessions if s.kind is SessionKind.therapy]
    first = intro.starts_at.astimezone(NEW_YORK).date()
    assert [(s.starts_at.astimezone(NEW_YORK).date() - first).days for s in therapy][:2] == [14, 28]
    assert record.check_ins is not None and record.check_ins.due_at == intro.starts_at + timedelta(days=14)


async def test_a_plan_of_a_therapist_the_client_is_not_in_care_with_starts_nothing(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await introduced(ctx, clock)

    await follow(ctx, plan("c-1", version=1, therapist_id="t-other", now=clock.now))

    record = await care(ctx, "c-1")
    assert record.series is None and record.check_ins is None


async def test_a_biweekly_plan_cancels_the_off_rhythm_sessions_and_keeps_the_rest(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    intro = await introduced(ctx, clock)
    await follow(ctx, plan("c-1", version=1, now=clock.now))
    await fire_due(ctx, clock.now)

    await follow(ctx, plan("c-1", version=2, cadence=SessionCadence.biweekly, now=clock.now))
    await fire_due(ctx, clock.now)

    record = await care(ctx, "c-1")
    first = intro.starts_at.astimezone(NEW_YORK).date()
    upcoming = [(s.starts_at.astimezone(NEW_YORK).date() - first).days for s in record.upcoming(clock.now)]
    assert upcoming == [14, 28]
    assert [c.reason for c in cancelled(ctx)] == ["cadence_changed", "cadence_changed"]


async def test_a_completed_plan_ends_care_cancelling_future_sessions_and_stopping_check_ins(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await introduced(ctx, clock)
    await follow(ctx, plan("c-1", version=1, now=clock.now))
    await fire_due(ctx, clock.now)

    await follow(ctx, plan("c-1", version=2, status=PlanStatus.completed, now=clock.now))

    record = await care(ctx, "c-1")
    assert record.upcoming(clock.now) == []
    assert [c.reason for c in cancelled(ctx)] == ["plan_completed"] * 4
    assert record.relationships.state_of("t-1", clock.now) is CareState.ended
    clock.now += timedelta(days=60)
    assert await fire_due(ctx, clock.now) == [], "no check-in after care ended"


async def test_a_new_check_in_interval_moves_the_pending_check_in(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await introduced(ctx, clock)
    written = clock.now
    await follow(ctx, plan("c-1", version=1, interval=14, now=written))

    await follow(ctx, plan("c-1", version=2, interval=7, now=clock.now))
    clock.now = written + timedelta(days=8)
    fired = [e.data for e in await fire_due(ctx, clock.now) if isinstance(e.data, CheckInDue)]

    assert [d.due_at - written for d in fired] == [timedelta(days=7)]


async def test_a_paused_plan_holds_check_ins_until_it_is_active_again(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await introduced(ctx, clock)
    await follow(ctx, plan("c-1", version=1, now=clock.now))

    await follow(ctx, plan("c-1", version=2, status=PlanStatus.paused, now=clock.now))
    clock.now += timedelta(days=30)
    assert [e for e in await fire_due(ctx, clock.now) if e.topic == "check-in-due"] == []

    await follow(ctx, plan("c-1", version=3, now=clock.now))
    fired = [e for e in await fire_due(ctx, clock.now) if e.topic == "check-in-due"]
    assert len(fired) == 1, "the overdue check-in falls due once, at once"


async def test_a_check_in_timer_the_record_no_longer_names_publishes_nothing(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await introduced(ctx, clock)
    await follow(ctx, plan("c-1", version=1, now=clock.now))
    before = await care(ctx, "c-1")
    assert before.check_ins is not None and before.check_ins.due_at is not None
    stale = Timer(
        before.check_ins.timer_id or "", "check-in", before.check_ins.due_at, 1, {"client_id": "c-1"}
    )

    await follow(ctx, plan("c-1", version=2, interval=21, now=clock.now))  # moves the check-in
    clock.now = before.check_ins.due_at

    assert await on_check_in_timer(ctx)(stale) == []
    again = await on_check_in_timer(ctx)(stale)
    assert again == [], "and firing it again changes nothing either"


# ---------------------------------------------------------------------- care ends


async def test_a_switch_ends_care_with_the_former_therapist_and_books_the_introduction_with_the_new_one(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await available(ctx, "t-2", weekdays())
    await introduced(ctx, clock)
    await follow(ctx, plan("c-1", version=1, now=clock.now))
    await fire_due(ctx, clock.now)
    [next_one, *_] = (await care(ctx, "c-1")).upcoming(clock.now)

    await propose(ctx, "c-1", ["t-2"], match_id="match-2")
    assert cancelled(ctx) == [], "nothing moves until the client chooses"
    await accept(ctx, "c-1", "t-2", match_id="match-2")

    record = await care(ctx, "c-1")
    [upcoming] = record.upcoming(clock.now)
    assert (upcoming.therapist_id, upcoming.kind, upcoming.starts_at) == (
        "t-2",
        SessionKind.introduction,
        next_one.starts_at,
    )
    assert {c.reason for c in cancelled(ctx)} == {"therapist_switched"} and len(cancelled(ctx)) == 4
    assert record.series is not None and record.series.status is SeriesStatus.stopped
    assert record.check_ins is not None and not record.check_ins.active
    assert record.relationships.state_of("t-1", clock.now) is CareState.ended
    assert record.relationships.state_of("t-2", clock.now) is CareState.chosen


async def test_a_declined_match_cancels_the_introduction_booked_from_it(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await propose(ctx, "c-1", ["t-1"])
    await accept(ctx, "c-1", "t-1")

    await decline(ctx, "c-1", "t-1")

    record = await care(ctx, "c-1")
    assert record.upcoming(clock.now) == []
    [gone] = cancelled(ctx)
    assert gone.reason == "match_declined"
    assert record.relationships.state_of("t-1", clock.now) is CareState.ended


async def test_declining_a_switch_proposal_leaves_care_with_the_current_therapist(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await introduced(ctx, clock)
    await follow(ctx, plan("c-1", version=1, now=clock.now))
    await fire_due(ctx, clock.now)
    await propose(ctx, "c-1", ["t-2"], match_id="match-2")

    await decline(ctx, "c-1", None, match_id="match-2")

    record = await care(ctx, "c-1")
    assert cancelled(ctx) == [] and len(record.upcoming(clock.now)) == 4
    assert record.relationships.state_of("t-1", clock.now) is CareState.in_care
    assert record.relationships.state_of("t-2", clock.now) is CareState.withdrawn


class StaleOnce:
    """The clients store of another replica that read a client's record a moment too early:
    its first read finds nothing; every write and later read is the store's own."""

    def __init__(self, documents: InMemoryDocuments) -> None:
        self._documents = documents
        self._stale = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._documents, name)

    async def get(self, document_id: str, *, writing: bool = False) -> Document | None:
        if self._stale:
            self._stale = False
            return None
        return await self._documents.get(document_id)


def read_too_early(ctx: SchedulingContext) -> SchedulingContext:
    clients = cast(InMemoryDocuments, ctx.stores.clients)
    return SchedulingContext(replace(ctx.stores, clients=StaleOnce(clients)), ctx.policy, ctx.clock)


async def test_an_acceptance_decided_before_its_proposal_was_stored_still_books_once(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    """Two replicas: the proposal is stored while the acceptance is being decided on."""
    await available(ctx, "t-1", weekdays())
    await propose(ctx, "c-1", ["t-1", "t-2"])

    await accept(read_too_early(ctx), "c-1", "t-1")

    [intro] = booked(ctx)
    assert (intro.therapist_id, intro.kind) == ("t-1", "introduction")
    assert (await care(ctx, "c-1")).proposal("match-1").outcome is ProposalOutcome.booked  # type: ignore[union-attr]


async def test_a_proposal_decided_before_its_acceptance_was_stored_still_books_once(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    """Two replicas: the acceptance is stored while the proposal is being decided on."""
    await available(ctx, "t-1", weekdays())
    await accept(ctx, "c-1", "t-1")

    await propose(read_too_early(ctx), "c-1", ["t-2", "t-1"])

    [intro] = booked(ctx)
    assert intro.therapist_id == "t-1"
