"""Direct booking within the client's consent, moves, cancellations, attendance and calendar feeds,
on the in-memory fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar as ICalendar

from services.scheduling.commands.book_session import BookSession, book_session
from services.scheduling.commands.cancel_session import CancelSession, cancel_session
from services.scheduling.commands.record_attendance import RecordAttendance, record_attendance
from services.scheduling.commands.reschedule_session import RescheduleSession, reschedule_session
from services.scheduling.context import SchedulingContext
from services.scheduling.domain.cancellation import CancelledBy, SessionStatus
from services.scheduling.domain.care import Attendance, ProposalOutcome, SessionKind
from services.scheduling.domain.ical import calendar_feed
from services.scheduling.domain.policy import Policy
from services.scheduling.store.therapist_sessions import LISTED_PAST, sessions_of
from shared.care.relationship import CareState
from shared.events.models import SessionAttendanceRecorded, SessionBooked
from shared.refusals import Conflict, Invalid, Refused
from tests.support.fakes import ManualClock
from tests.unit.scheduling.conftest import weekdays
from tests.unit.scheduling.support import (
    accept,
    attend,
    available,
    care,
    events,
    fire_due,
    follow,
    introduced,
    plan,
    propose,
)

WEDNESDAY_10 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # 10:00 in New York
NEW_YORK = ZoneInfo("America/New_York")


async def proposed_to(ctx: SchedulingContext, client_id: str, *therapists: str, **kwargs: Any) -> None:
    """Each therapist published weekday availability and is proposed to the client."""
    for therapist in therapists:
        await available(ctx, therapist, weekdays())
    await propose(ctx, client_id, list(therapists), **kwargs)


def booked(ctx: SchedulingContext) -> list[SessionBooked]:
    return [e.data for e in events(ctx, "session-booked") if isinstance(e.data, SessionBooked)]


def fields(refused: Refused) -> list[str]:
    """The fields a refusal names, as the caller sent them."""
    return [problem.field for problem in refused.errors]


def recorded(ctx: SchedulingContext) -> list[SessionAttendanceRecorded]:
    return [
        e.data
        for e in events(ctx, "session-attendance-recorded")
        if isinstance(e.data, SessionAttendanceRecorded)
    ]


# ---------------------------------------------------------------------- booking within consent


async def test_a_client_may_not_book_a_therapist_never_proposed_to_them(ctx: SchedulingContext) -> None:
    await available(ctx, "t-stranger", weekdays())

    with pytest.raises(Conflict) as refused:
        await book_session(
            BookSession(client_id="c-1", therapist_id="t-stranger", starts_at=WEDNESDAY_10), ctx
        )

    assert refused.value.code == "therapist_not_proposed"
    assert (refused.value.reason, fields(refused.value)) == ("never_proposed", ["body.therapist_id"])
    assert booked(ctx) == []


async def test_a_client_may_not_book_a_therapist_once_the_proposal_expired(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await proposed_to(ctx, "c-1", "t-1")
    clock.advance(timedelta(days=3))  # proposals expire after two days here

    with pytest.raises(Refused) as refused:
        await book_session(
            BookSession(client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10 + timedelta(days=7)), ctx
        )

    assert (refused.value.code, refused.value.reason) == ("therapist_not_proposed", "proposal_expired")


async def test_a_client_booking_a_proposed_therapists_slot_chooses_them(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await proposed_to(ctx, "c-1", "t-1", "t-2")

    session = await book_session(
        BookSession(client_id="c-1", therapist_id="t-2", starts_at=WEDNESDAY_10), ctx
    )

    [event] = booked(ctx)
    assert (event.booked_by, event.kind, event.match_id, event.sequence) == (
        "client",
        "introduction",
        "match-1",
        1,
    )
    record = await care(ctx, "c-1")
    assert record.relationships.state_of("t-2", clock.now) is CareState.chosen
    assert record.relationships.state_of("t-1", clock.now) is CareState.withdrawn
    proposal = record.proposal("match-1")
    assert proposal is not None and proposal.outcome is ProposalOutcome.booked
    assert (proposal.session_id, proposal.accepted_therapist_id) == (session.session_id, "t-2")

    await accept(ctx, "c-1", "t-2")  # matching records the choice and tells everyone
    assert len(booked(ctx)) == 1, "the acceptance that follows books nothing twice"


async def test_a_client_booking_another_proposed_therapist_ends_care_with_the_former(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await introduced(ctx, clock)
    await follow(ctx, plan("c-1", version=1, now=clock.now))
    await fire_due(ctx, clock.now)
    await proposed_to(ctx, "c-1", "t-2", match_id="match-2")
    starts = datetime(2026, 3, 11, 19, 0, tzinfo=UTC) + timedelta(days=7)

    await book_session(BookSession(client_id="c-1", therapist_id="t-2", starts_at=starts), ctx)

    record = await care(ctx, "c-1")
    assert {s.therapist_id for s in record.upcoming(clock.now)} == {"t-2"}
    assert record.relationships.state_of("t-1", clock.now) is CareState.ended
    assert {e.data.reason for e in events(ctx, "session-cancelled")} == {"therapist_switched"}  # type: ignore[attr-defined]


async def test_an_admin_books_outside_consent_only_by_naming_a_reason(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-stranger", weekdays())

    with pytest.raises(Refused) as refused:
        await book_session(
            BookSession(
                client_id="c-1", therapist_id="t-stranger", starts_at=WEDNESDAY_10, booked_by="admin"
            ),
            ctx,
        )
    assert (refused.value.code, fields(refused.value)) == ("therapist_not_proposed", ["body.override_reason"])

    session = await book_session(
        BookSession(
            client_id="c-1",
            therapist_id="t-stranger",
            starts_at=WEDNESDAY_10,
            booked_by="admin",
            override_reason="crisis_continuity",
        ),
        ctx,
    )

    assert (session.booked_by, session.override_reason) == ("admin", "crisis_continuity")
    [event] = booked(ctx)
    assert event.booked_by == "admin" and event.kind == "introduction" and event.match_id is None
    assert (await care(ctx, "c-1")).relationships.of("t-stranger") is None, "it grants nothing"


async def test_a_client_cannot_override_their_consent(ctx: SchedulingContext) -> None:
    await available(ctx, "t-stranger", weekdays())

    with pytest.raises(Invalid) as refused:
        await book_session(
            BookSession(
                client_id="c-1", therapist_id="t-stranger", starts_at=WEDNESDAY_10, override_reason="mine"
            ),
            ctx,
        )

    assert fields(refused.value) == ["body.override_reason"]


async def test_a_second_introduction_with_the_same_therapist_is_refused_while_one_is_booked(
    ctx: SchedulingContext,
) -> None:
    await proposed_to(ctx, "c-1", "t-1")
    await book_session(BookSession(client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10), ctx)

    with pytest.raises(Refused) as refused:
        await book_session(
            BookSession(client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10 + timedelta(days=1)), ctx
        )

    assert refused.value.code == "introduction_already_booked"


async def test_a_client_in_care_books_more_therapy_in_the_same_series(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    intro = await introduced(ctx, clock)

    extra = await book_session(
        BookSession(client_id="c-1", therapist_id="t-1", starts_at=intro.starts_at + timedelta(days=2)), ctx
    )

    assert (extra.kind, extra.sequence, extra.series_id) == (SessionKind.therapy, 2, intro.series_id)
    await follow(ctx, plan("c-1", version=1, now=clock.now))
    await fire_due(ctx, clock.now)
    therapy = [s for s in (await care(ctx, "c-1")).sessions if s.kind is SessionKind.therapy]
    assert len({s.sequence for s in therapy}) == len(therapy), "the series numbers on after it"


# ---------------------------------------------------------------------- slots and changes


async def test_a_taken_slot_is_refused_with_a_conflict(ctx: SchedulingContext) -> None:
    await proposed_to(ctx, "c-1", "t-1")
    await proposed_to(ctx, "c-2", "t-1")
    await book_session(BookSession(client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10), ctx)

    with pytest.raises(Conflict) as refused:
        await book_session(
            BookSession(client_id="c-2", therapist_id="t-1", starts_at=WEDNESDAY_10 + timedelta(minutes=30)),
            ctx,
        )

    assert refused.value.code == "slot_taken"


async def test_a_time_beyond_the_horizon_is_bad_input(ctx: SchedulingContext) -> None:
    await available(ctx, "t-1", weekdays(horizon_days=7))
    await propose(ctx, "c-1", ["t-1"])
    with pytest.raises(Invalid) as refused:
        await book_session(
            BookSession(client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10 + timedelta(days=14)), ctx
        )
    assert refused.value.code == "outside_horizon"


async def test_a_cancelled_slot_can_be_booked_again(ctx: SchedulingContext) -> None:
    await proposed_to(ctx, "c-1", "t-1")
    await propose(ctx, "c-2", ["t-1"])
    first = await book_session(BookSession(client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10), ctx)

    await cancel_session(CancelSession(first, by=CancelledBy.client, reason=None), ctx)
    again = await book_session(BookSession(client_id="c-2", therapist_id="t-1", starts_at=WEDNESDAY_10), ctx)

    assert again.starts_at == WEDNESDAY_10 and again.client_id == "c-2"


async def test_a_client_cancelling_within_24_hours_is_kept_as_a_late_cancel(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await proposed_to(ctx, "c-1", "t-1")
    session = await book_session(
        BookSession(client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10), ctx
    )
    clock.now = WEDNESDAY_10 - timedelta(hours=3)

    cancelled = await cancel_session(CancelSession(session, by=CancelledBy.client, reason="unwell"), ctx)

    assert cancelled.status is SessionStatus.late_cancelled
    [event] = [e.data for e in events(ctx, "session-cancelled")]
    assert event.status == "late_cancelled" and event.reason == "unwell"  # type: ignore[attr-defined]


async def test_a_move_into_a_taken_slot_is_refused_and_keeps_the_session_where_it_was(
    ctx: SchedulingContext,
) -> None:
    for client in ("c-1", "c-2", "c-3"):
        await proposed_to(ctx, client, "t-1")
    mine = await book_session(BookSession(client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10), ctx)
    await book_session(
        BookSession(client_id="c-2", therapist_id="t-1", starts_at=WEDNESDAY_10 + timedelta(hours=2)), ctx
    )

    with pytest.raises(Conflict):
        await reschedule_session(
            RescheduleSession(mine, WEDNESDAY_10 + timedelta(hours=2, minutes=30), by="client"), ctx
        )

    assert (await care(ctx, "c-1")).sessions[0].starts_at == WEDNESDAY_10
    # its own slot is still held: nobody else can take it
    with pytest.raises(Refused) as taken:
        await book_session(BookSession(client_id="c-3", therapist_id="t-1", starts_at=WEDNESDAY_10), ctx)
    assert taken.value.code == "slot_taken"


async def test_a_move_by_half_an_hour_frees_the_old_time_it_no_longer_covers(ctx: SchedulingContext) -> None:
    await proposed_to(ctx, "c-1", "t-1")
    await propose(ctx, "c-2", ["t-1"])
    mine = await book_session(BookSession(client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10), ctx)

    moved = await reschedule_session(
        RescheduleSession(mine, WEDNESDAY_10 + timedelta(minutes=30), by="clinician"), ctx
    )
    before = await book_session(
        BookSession(client_id="c-2", therapist_id="t-1", starts_at=WEDNESDAY_10 - timedelta(minutes=30)), ctx
    )

    assert moved.revision == 1 and moved.starts_at == WEDNESDAY_10 + timedelta(minutes=30)
    assert before.ends_at <= moved.starts_at
    [event] = [e.data for e in events(ctx, "session-rescheduled")]
    assert event.previous_starts_at == WEDNESDAY_10 and event.rescheduled_by == "clinician"  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- attendance


async def test_a_held_introduction_puts_the_client_in_care_once_however_often_it_is_recorded(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await proposed_to(ctx, "c-1", "t-1")
    await accept(ctx, "c-1", "t-1")
    [intro] = (await care(ctx, "c-1")).sessions

    held = await attend(ctx, clock, intro)
    again = await record_attendance(RecordAttendance(held, Attendance.held, by="clinician"), ctx)

    assert held.attendance is Attendance.held and held.status is SessionStatus.booked
    assert again == held and len(recorded(ctx)) == 1
    [event] = recorded(ctx)
    assert (event.kind, event.attendance, event.recorded_by, event.match_id) == (
        "introduction",
        "held",
        "clinician",
        "match-1",
    )
    assert (await care(ctx, "c-1")).relationships.state_of("t-1", clock.now) is CareState.in_care


async def test_attendance_that_contradicts_what_was_recorded_is_refused(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    intro = await introduced(ctx, clock)

    with pytest.raises(Conflict) as refused:
        await record_attendance(RecordAttendance(intro, Attendance.no_show, by="clinician"), ctx)

    assert refused.value.code == "attendance_already_recorded"


async def test_attendance_is_recorded_only_once_the_session_has_started(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await proposed_to(ctx, "c-1", "t-1")
    await accept(ctx, "c-1", "t-1")
    [intro] = (await care(ctx, "c-1")).sessions

    with pytest.raises(Conflict) as refused:
        await record_attendance(RecordAttendance(intro, Attendance.held, by="clinician"), ctx)

    assert refused.value.code == "session_not_started"


async def test_an_introduction_booked_for_the_client_is_not_care_until_they_choose(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    at_once = SchedulingContext(ctx.stores, Policy(book_at_once=True), clock)
    await available(at_once, "t-1", weekdays())
    await propose(at_once, "c-1", ["t-1"])
    [intro] = (await care(ctx, "c-1")).sessions

    with pytest.raises(Refused) as refused:
        await attend(ctx, clock, intro)

    assert refused.value.code == "not_chosen"


async def test_a_missed_introduction_starts_no_care_and_offers_the_next_three_starts_in_the_clients_windows(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await proposed_to(ctx, "c-1", "t-1", windows=[("tue", "14:00", "16:00"), ("thu", "09:00", "10:00")])
    await accept(ctx, "c-1", "t-1")
    [intro] = (await care(ctx, "c-1")).sessions

    missed = await attend(ctx, clock, intro, Attendance.no_show)

    assert missed.status is SessionStatus.no_show
    [event] = recorded(ctx)
    assert event.attendance == "no_show" and len(event.offered_slots) == 3
    assert all(s >= clock.now + timedelta(hours=24) for s in event.offered_slots), "minimum notice"
    local = [s.astimezone(NEW_YORK) for s in event.offered_slots]
    assert all((t.weekday(), t.hour) in {(1, 14), (1, 15), (3, 9)} for t in local), local
    record = await care(ctx, "c-1")
    assert record.relationships.state_of("t-1", clock.now) is CareState.chosen
    assert record.series is None and record.check_ins is None

    again = await book_session(
        BookSession(client_id="c-1", therapist_id="t-1", starts_at=event.offered_slots[0]), ctx
    )
    assert (again.kind, again.sequence, again.booked_by) == (SessionKind.introduction, 1, "client")
    assert again.series_id != intro.series_id


async def test_attendance_of_a_therapy_session_changes_no_care(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await introduced(ctx, clock)
    await follow(ctx, plan("c-1", version=1, now=clock.now))
    await fire_due(ctx, clock.now)
    [therapy, *_] = (await care(ctx, "c-1")).upcoming(clock.now)

    await attend(ctx, clock, therapy, Attendance.no_show)

    event = recorded(ctx)[-1]
    assert (event.kind, event.attendance, event.offered_slots) == ("therapy", "no_show", [])
    record = await care(ctx, "c-1")
    assert record.relationships.state_of("t-1", clock.now) is CareState.in_care
    assert record.series is not None and record.series.in_care


# ---------------------------------------------------------------------- calendars


async def test_calendar_feeds_update_a_moved_session_in_place(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await proposed_to(ctx, "c-1", "t-1")
    session = await book_session(
        BookSession(client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10), ctx
    )
    before = ICalendar.from_ical(calendar_feed([session], name="x", feed_id="c-1", now=clock.now))

    moved = await reschedule_session(
        RescheduleSession(session, WEDNESDAY_10 + timedelta(hours=1), by="client"), ctx
    )
    therapist_side = await sessions_of(ctx.stores.therapist_sessions, "t-1")
    after = ICalendar.from_ical(calendar_feed(therapist_side, name="x", feed_id="t-1", now=clock.now))

    [old], [new] = before.events, after.events
    assert str(old["UID"]) == str(new["UID"]) == f"{session.session_id}@scheduling.carepath"
    assert (int(str(old["SEQUENCE"])), int(str(new["SEQUENCE"]))) == (0, 1)
    assert new.decoded("DTSTART") == moved.starts_at
    assert str(new["URL"]) == session.join_url and session.join_url in str(new["DESCRIPTION"])


async def test_a_cancelled_session_stays_in_the_feed_as_cancelled(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await proposed_to(ctx, "c-1", "t-1")
    session = await book_session(
        BookSession(client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10), ctx
    )
    cancelled = await cancel_session(CancelSession(session, by=CancelledBy.clinician, reason=None), ctx)

    [event] = ICalendar.from_ical(calendar_feed([cancelled], name="x", feed_id="c-1", now=clock.now)).events

    assert str(event["STATUS"]) == "CANCELLED" and int(str(event["SEQUENCE"])) == 1


async def test_a_former_therapists_own_calendar_keeps_only_the_sessions_before_the_end(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    intro = await introduced(ctx, clock)
    await follow(ctx, plan("c-1", version=1, now=clock.now))
    await fire_due(ctx, clock.now)
    assert len(await sessions_of(ctx.stores.therapist_sessions, "t-1")) == 5

    await propose(ctx, "c-1", ["t-2"], match_id="match-2")
    await available(ctx, "t-2", weekdays())
    await accept(ctx, "c-1", "t-2", match_id="match-2")

    kept = await sessions_of(ctx.stores.therapist_sessions, "t-1")
    assert [s.session_id for s in kept] == [intro.session_id]
    assert all(s.client_id == "c-1" and s.therapist_id == "t-1" for s in kept)


# ------------------------------------------------------------- the therapist's calendar stays small


async def test_a_therapists_calendar_lists_a_session_for_eight_weeks_after_its_end_and_the_client_keeps_it(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    intro = await introduced(ctx, clock)

    clock.advance(LISTED_PAST + timedelta(days=1))
    assert await sessions_of(ctx.stores.therapist_sessions, "t-1", now=clock.now) == []

    await introduced(ctx, clock, client_id="c-2")  # the next change of the therapist's calendar
    stored = await ctx.stores.therapist_sessions.get("t-1")
    assert stored is not None
    assert intro.session_id not in {s["session_id"] for s in stored["sessions"]}
    assert {s["client_id"] for s in stored["sessions"]} == {"c-2"}
    assert intro.session_id in {s.session_id for s in (await care(ctx, "c-1")).sessions}


async def test_a_therapists_calendar_keeps_no_slot_claims_yet_a_cancelled_session_lets_its_slot_go(
    ctx: SchedulingContext,
) -> None:
    await proposed_to(ctx, "c-1", "t-1")
    await propose(ctx, "c-2", ["t-1"])
    first = await book_session(BookSession(client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10), ctx)
    stored = await ctx.stores.therapist_sessions.get("t-1")
    assert first.claims and stored is not None and all("claims" not in s for s in stored["sessions"])

    await cancel_session(CancelSession(first, by=CancelledBy.client, reason=None), ctx)
    again = await book_session(BookSession(client_id="c-2", therapist_id="t-1", starts_at=WEDNESDAY_10), ctx)

    assert again.starts_at == WEDNESDAY_10 and again.client_id == "c-2"
