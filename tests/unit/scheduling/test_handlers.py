"""Scheduling's event handlers and timers on the in-memory fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.scheduling.commands.cancel_session import cancel_session
from services.scheduling.commands.context import Scheduling
from services.scheduling.commands.fire_check_in import on_check_in_timer
from services.scheduling.domain.cancellation import CancelledBy
from services.scheduling.domain.care import SeriesStatus, SessionKind
from services.scheduling.domain.policy import Policy
from services.scheduling.handlers.on_match_accepted import on_match_accepted
from services.scheduling.handlers.on_match_declined import on_match_declined
from services.scheduling.handlers.on_match_proposed import on_match_proposed
from services.scheduling.handlers.on_treatment_plan_updated import on_treatment_plan_updated
from shared.events.common import PlanStatus, SessionCadence
from shared.events.models import BookingFailed, CheckInDue, MatchDeclined, SessionBooked
from shared.storage.timers import Timer
from tests.support.fakes import ManualClock
from tests.unit.scheduling.conftest import weekdays
from tests.unit.scheduling.support import (
    accepted,
    available,
    care,
    envelope,
    events,
    fire_due,
    plan,
    proposed,
)

NEW_YORK = ZoneInfo("America/New_York")


async def test_match_proposed_books_the_best_ranked_candidate_with_a_slot_in_the_clients_windows(
    ctx: Scheduling, clock: ManualClock
) -> None:
    await available(ctx, "t-evenings", weekdays("18:00", "21:00"))  # outside the client's windows
    await available(ctx, "t-days", weekdays())
    event = proposed("c-1", ["t-none", "t-evenings", "t-days"], now=clock.now)

    await on_match_proposed(ctx)(event, envelope(event))

    [booked] = [e.data for e in events(ctx, "session-booked")]
    assert isinstance(booked, SessionBooked)
    assert booked.therapist_id == "t-days" and booked.sequence == 1 and booked.kind == "introduction"
    assert booked.starts_at >= clock.now + timedelta(hours=24), "minimum notice"
    assert booked.join_url.startswith("https://") and len(booked.join_url.rsplit("/", 1)[1]) >= 20
    assert booked.timezone == "America/New_York"


async def test_redelivered_match_proposed_books_nothing_more(ctx: Scheduling, clock: ManualClock) -> None:
    await available(ctx, "t-1", weekdays())
    event = proposed("c-1", ["t-1"], now=clock.now)
    handle = on_match_proposed(ctx)

    await handle(event, envelope(event))  # first delivery
    await handle(event, envelope(event))  # matching sent the same proposal again

    assert len(events(ctx, "session-booked")) == 1
    assert len((await care(ctx, "c-1")).sessions) == 1


async def test_no_fitting_slot_publishes_booking_failed_naming_every_therapist_tried(
    ctx: Scheduling, clock: ManualClock
) -> None:
    await available(ctx, "t-evenings", weekdays("18:00", "21:00"))
    event = proposed("c-1", ["t-evenings", "t-unknown"], now=clock.now)

    await on_match_proposed(ctx)(event, envelope(event))

    [failed] = [e.data for e in events(ctx, "booking-failed")]
    assert isinstance(failed, BookingFailed)
    assert failed.tried_therapist_ids == ["t-evenings", "t-unknown"]
    assert failed.reason == "no_slot_in_client_windows"
    assert events(ctx, "session-booked") == []


async def test_wait_for_accept_policy_books_only_once_the_client_accepts(
    stores: object, clock: ManualClock, ctx: Scheduling
) -> None:
    waiting = Scheduling(ctx.stores, Policy(book_at_once=False), clock)
    await available(waiting, "t-1", weekdays())
    await available(waiting, "t-2", weekdays())
    event = proposed("c-1", ["t-1", "t-2"], now=clock.now)

    await on_match_proposed(waiting)(event, envelope(event))
    assert events(waiting, "session-booked") == []

    acceptance = accepted("c-1", "t-2", now=clock.now)
    await on_match_accepted(waiting)(acceptance, envelope(acceptance))
    [booked] = [e.data for e in events(waiting, "session-booked")]
    assert isinstance(booked, SessionBooked) and booked.therapist_id == "t-2"


async def test_acceptance_before_its_proposal_books_the_accepted_therapist(
    ctx: Scheduling, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await available(ctx, "t-2", weekdays())
    acceptance = accepted("c-1", "t-2", now=clock.now)
    await on_match_accepted(ctx)(acceptance, envelope(acceptance))

    event = proposed("c-1", ["t-1", "t-2"], now=clock.now)
    await on_match_proposed(ctx)(event, envelope(event))

    [booked] = [e.data for e in events(ctx, "session-booked")]
    assert isinstance(booked, SessionBooked) and booked.therapist_id == "t-2"


async def test_series_follows_weekly_cadence_after_the_introduction(
    ctx: Scheduling, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    event = proposed("c-1", ["t-1"], now=clock.now)
    await on_match_proposed(ctx)(event, envelope(event))
    intro = (await care(ctx, "c-1")).sessions[0]

    await fire_due(ctx, clock.now)
    assert len(events(ctx, "session-booked")) == 1, "the series waits for the introduction"

    clock.now = intro.ends_at
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


async def test_biweekly_plan_cancels_the_off_rhythm_sessions_and_keeps_the_rest(
    ctx: Scheduling, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    event = proposed("c-1", ["t-1"], now=clock.now)
    await on_match_proposed(ctx)(event, envelope(event))
    intro = (await care(ctx, "c-1")).sessions[0]
    clock.now = intro.ends_at
    await fire_due(ctx, clock.now)

    update = plan("c-1", version=1, cadence=SessionCadence.biweekly, now=clock.now)
    await on_treatment_plan_updated(ctx)(update, envelope(update))
    await fire_due(ctx, clock.now)

    record = await care(ctx, "c-1")
    first = intro.starts_at.astimezone(NEW_YORK).date()
    upcoming = [(s.starts_at.astimezone(NEW_YORK).date() - first).days for s in record.upcoming(clock.now)]
    assert upcoming == [14, 28]
    cancelled = [e.data for e in events(ctx, "session-cancelled")]
    assert [c.reason for c in cancelled] == ["cadence_changed", "cadence_changed"]  # type: ignore[attr-defined]


async def test_completed_plan_cancels_future_sessions_and_stops_check_ins(
    ctx: Scheduling, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    event = proposed("c-1", ["t-1"], now=clock.now)
    await on_match_proposed(ctx)(event, envelope(event))
    intro = (await care(ctx, "c-1")).sessions[0]
    clock.now = intro.ends_at
    await fire_due(ctx, clock.now)

    done = plan("c-1", version=2, status=PlanStatus.completed, now=clock.now)
    await on_treatment_plan_updated(ctx)(done, envelope(done))

    record = await care(ctx, "c-1")
    assert record.upcoming(clock.now) == []
    assert len(events(ctx, "session-cancelled")) == 4
    clock.now += timedelta(days=60)
    assert await fire_due(ctx, clock.now) == [], "no check-in after care ended"


async def test_check_in_fires_every_interval_from_the_first_session_once_per_due_date(
    ctx: Scheduling, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    event = proposed("c-1", ["t-1"], now=clock.now)
    await on_match_proposed(ctx)(event, envelope(event))
    intro = (await care(ctx, "c-1")).sessions[0]

    clock.now = intro.starts_at + timedelta(days=29)
    fired = [e.data for e in await fire_due(ctx, clock.now)]

    assert [d.due_at - intro.starts_at for d in fired if isinstance(d, CheckInDue)] == [
        timedelta(days=14),
        timedelta(days=28),
    ]
    assert all(isinstance(d, CheckInDue) and d.therapist_id == "t-1" for d in fired)
    assert len({d.check_in_id for d in fired if isinstance(d, CheckInDue)}) == 2


async def test_a_new_check_in_interval_moves_the_pending_check_in(
    ctx: Scheduling, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    event = proposed("c-1", ["t-1"], now=clock.now)
    await on_match_proposed(ctx)(event, envelope(event))
    intro = (await care(ctx, "c-1")).sessions[0]

    update = plan("c-1", version=1, interval=7, now=clock.now)
    await on_treatment_plan_updated(ctx)(update, envelope(update))
    clock.now = intro.starts_at + timedelta(days=8)
    fired = [e.data for e in await fire_due(ctx, clock.now)]

    assert [d.due_at - intro.starts_at for d in fired if isinstance(d, CheckInDue)] == [timedelta(days=7)]


async def test_paused_plan_holds_check_ins_until_it_is_active_again(
    ctx: Scheduling, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    event = proposed("c-1", ["t-1"], now=clock.now)
    await on_match_proposed(ctx)(event, envelope(event))

    paused = plan("c-1", version=1, status=PlanStatus.paused, now=clock.now)
    await on_treatment_plan_updated(ctx)(paused, envelope(paused))
    clock.now += timedelta(days=30)
    assert [e for e in await fire_due(ctx, clock.now) if e.topic == "check-in-due"] == []

    resumed = plan("c-1", version=2, now=clock.now)
    await on_treatment_plan_updated(ctx)(resumed, envelope(resumed))
    fired = [e for e in await fire_due(ctx, clock.now) if e.topic == "check-in-due"]
    assert len(fired) == 1, "the overdue check-in falls due once, at once"


async def test_match_accepted_of_another_therapist_moves_future_sessions(
    ctx: Scheduling, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await available(ctx, "t-2", weekdays())
    event = proposed("c-1", ["t-1", "t-2"], now=clock.now)
    await on_match_proposed(ctx)(event, envelope(event))
    before = (await care(ctx, "c-1")).sessions[0]

    switch = accepted("c-1", "t-2", now=clock.now)
    await on_match_accepted(ctx)(switch, envelope(switch))

    record = await care(ctx, "c-1")
    [upcoming] = record.upcoming(clock.now)
    assert upcoming.therapist_id == "t-2" and upcoming.starts_at == before.starts_at
    [cancelled] = [e.data for e in events(ctx, "session-cancelled")]
    assert cancelled.therapist_id == "t-1" and cancelled.reason == "therapist_switched"  # type: ignore[attr-defined]
    assert record.series is not None and record.series.therapist_id == "t-2"


async def test_declined_match_cancels_the_care_booked_from_it(ctx: Scheduling, clock: ManualClock) -> None:
    await available(ctx, "t-1", weekdays())
    event = proposed("c-1", ["t-1"], now=clock.now)
    await on_match_proposed(ctx)(event, envelope(event))

    declined = MatchDeclined(match_id="match-1", client_id="c-1", therapist_id="t-1", declined_at=clock.now)
    await on_match_declined(ctx)(declined, envelope(declined))

    record = await care(ctx, "c-1")
    assert record.upcoming(clock.now) == [] and record.therapist_id is None
    assert len(events(ctx, "session-cancelled")) == 1


async def test_booking_a_therapist_for_a_client_in_london_lands_in_the_clients_evening(
    ctx: Scheduling, clock: ManualClock
) -> None:
    await available(
        ctx,
        "t-la",
        {"timezone": "America/Los_Angeles", "weekly": [{"day": "monday", "start": "09:00", "end": "12:00"}]},
    )
    event = proposed(
        "c-london", ["t-la"], timezone="Europe/London", windows=[("mon", "17:00", "20:00")], now=clock.now
    )
    await on_match_proposed(ctx)(event, envelope(event))

    [booked] = [e.data for e in events(ctx, "session-booked")]
    assert isinstance(booked, SessionBooked)
    # 09:00 in Los Angeles (UTC-8) is 17:00 in London (UTC+0) on Monday 9 March 2026.
    assert booked.starts_at == datetime(2026, 3, 9, 17, 0, tzinfo=UTC)


async def test_a_cancelled_introduction_starts_no_series_and_no_check_ins(
    ctx: Scheduling, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    event = proposed("c-1", ["t-1"], now=clock.now)
    await on_match_proposed(ctx)(event, envelope(event))
    intro = (await care(ctx, "c-1")).sessions[0]
    await cancel_session(ctx, intro, by=CancelledBy.client, reason=None)

    clock.now = intro.starts_at + timedelta(days=30)
    fired = await fire_due(ctx, clock.now)

    record = await care(ctx, "c-1")
    assert fired == [] and len(record.sessions) == 1
    assert record.series is not None and record.series.status is SeriesStatus.stopped


async def test_a_check_in_timer_the_record_no_longer_names_publishes_nothing(
    ctx: Scheduling, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    event = proposed("c-1", ["t-1"], now=clock.now)
    await on_match_proposed(ctx)(event, envelope(event))
    before = await care(ctx, "c-1")
    assert before.check_ins is not None and before.check_ins.due_at is not None
    stale = Timer(
        before.check_ins.timer_id or "", "check-in", before.check_ins.due_at, 1, {"client_id": "c-1"}
    )

    update = plan("c-1", version=1, interval=21, now=clock.now)  # moves the check-in: a new timer
    await on_treatment_plan_updated(ctx)(update, envelope(update))
    clock.now = before.check_ins.due_at

    assert await on_check_in_timer(ctx, stale) == []
    again = await on_check_in_timer(ctx, stale)
    assert again == [], "and firing it again changes nothing either"
