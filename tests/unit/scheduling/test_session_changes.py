"""Direct booking, moves, cancellations and calendar feeds, on the in-memory fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar as ICalendar

from services.scheduling.commands.book_session import book_session
from services.scheduling.commands.cancel_session import cancel_session, mark_no_show
from services.scheduling.commands.context import Scheduling
from services.scheduling.commands.refusals import Refused
from services.scheduling.commands.reschedule_session import reschedule_session
from services.scheduling.domain.cancellation import CancelledBy, SessionStatus
from services.scheduling.domain.ical import calendar_feed
from services.scheduling.store.therapist_sessions import sessions_of
from tests.support.fakes import ManualClock
from tests.unit.scheduling.conftest import weekdays
from tests.unit.scheduling.support import available, care, events

WEDNESDAY_10 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # 10:00 in New York


async def test_a_taken_slot_is_refused_with_a_conflict(ctx: Scheduling) -> None:
    await available(ctx, "t-1", weekdays())
    await book_session(ctx, client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10)

    with pytest.raises(Refused) as refused:
        await book_session(
            ctx, client_id="c-2", therapist_id="t-1", starts_at=WEDNESDAY_10 + timedelta(minutes=30)
        )

    assert refused.value.status == 409 and refused.value.code == "slot_taken"


async def test_a_time_beyond_the_horizon_is_bad_input(ctx: Scheduling) -> None:
    await available(ctx, "t-1", weekdays(horizon_days=7))
    with pytest.raises(Refused) as refused:
        await book_session(
            ctx, client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10 + timedelta(days=14)
        )
    assert refused.value.status == 422 and refused.value.code == "outside_horizon"


async def test_a_cancelled_slot_can_be_booked_again(ctx: Scheduling) -> None:
    await available(ctx, "t-1", weekdays())
    first = await book_session(ctx, client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10)

    await cancel_session(ctx, first, by=CancelledBy.client, reason=None)
    again = await book_session(ctx, client_id="c-2", therapist_id="t-1", starts_at=WEDNESDAY_10)

    assert again.starts_at == WEDNESDAY_10 and again.client_id == "c-2"


async def test_a_client_cancelling_within_24_hours_is_kept_as_a_late_cancel(
    ctx: Scheduling, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    session = await book_session(ctx, client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10)
    clock.now = WEDNESDAY_10 - timedelta(hours=3)

    cancelled = await cancel_session(ctx, session, by=CancelledBy.client, reason="unwell")

    assert cancelled.status is SessionStatus.late_cancelled
    [event] = [e.data for e in events(ctx, "session-cancelled")]
    assert event.status == "late_cancelled" and event.reason == "unwell"  # type: ignore[attr-defined]


async def test_a_move_into_a_taken_slot_is_refused_and_keeps_the_session_where_it_was(
    ctx: Scheduling,
) -> None:
    await available(ctx, "t-1", weekdays())
    mine = await book_session(ctx, client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10)
    await book_session(ctx, client_id="c-2", therapist_id="t-1", starts_at=WEDNESDAY_10 + timedelta(hours=2))

    with pytest.raises(Refused) as refused:
        await reschedule_session(ctx, mine, WEDNESDAY_10 + timedelta(hours=2, minutes=30), by="client")

    assert refused.value.status == 409
    assert (await care(ctx, "c-1")).sessions[0].starts_at == WEDNESDAY_10
    # its own slot is still held: nobody else can take it
    with pytest.raises(Refused):
        await book_session(ctx, client_id="c-3", therapist_id="t-1", starts_at=WEDNESDAY_10)


async def test_a_move_by_half_an_hour_frees_the_old_time_it_no_longer_covers(ctx: Scheduling) -> None:
    await available(ctx, "t-1", weekdays())
    mine = await book_session(ctx, client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10)

    moved = await reschedule_session(ctx, mine, WEDNESDAY_10 + timedelta(minutes=30), by="clinician")
    before = await book_session(
        ctx, client_id="c-2", therapist_id="t-1", starts_at=WEDNESDAY_10 - timedelta(minutes=30)
    )

    assert moved.revision == 1 and moved.starts_at == WEDNESDAY_10 + timedelta(minutes=30)
    assert before.ends_at <= moved.starts_at
    [event] = [e.data for e in events(ctx, "session-rescheduled")]
    assert event.previous_starts_at == WEDNESDAY_10 and event.rescheduled_by == "clinician"  # type: ignore[attr-defined]


async def test_a_no_show_is_kept_as_its_own_status(ctx: Scheduling, clock: ManualClock) -> None:
    await available(ctx, "t-1", weekdays())
    session = await book_session(ctx, client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10)
    clock.now = WEDNESDAY_10 + timedelta(minutes=15)

    marked = await mark_no_show(ctx, session)

    assert marked.status is SessionStatus.no_show


async def test_a_client_in_care_books_more_therapy_in_the_same_series(ctx: Scheduling) -> None:
    await available(ctx, "t-1", weekdays())
    first = await book_session(ctx, client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10)
    extra = await book_session(
        ctx, client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10 + timedelta(days=1)
    )

    assert (first.kind.value, first.sequence) == ("introduction", 1)
    assert (extra.kind.value, extra.sequence, extra.series_id) == ("therapy", 2, first.series_id)
    with pytest.raises(Refused) as refused:
        await available(ctx, "t-2", weekdays())
        await book_session(
            ctx, client_id="c-1", therapist_id="t-2", starts_at=WEDNESDAY_10 + timedelta(days=2)
        )
    assert refused.value.code == "in_care_with_another_therapist"


async def test_calendar_feeds_update_a_moved_session_in_place(ctx: Scheduling, clock: ManualClock) -> None:
    await available(ctx, "t-1", weekdays())
    session = await book_session(ctx, client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10)
    before = ICalendar.from_ical(calendar_feed([session], name="x", feed_id="c-1", now=clock.now))

    moved = await reschedule_session(ctx, session, WEDNESDAY_10 + timedelta(hours=1), by="client")
    therapist_side = await sessions_of(ctx.stores.therapist_sessions, "t-1")
    after = ICalendar.from_ical(calendar_feed(therapist_side, name="x", feed_id="t-1", now=clock.now))

    [old], [new] = before.events, after.events
    assert str(old["UID"]) == str(new["UID"]) == f"{session.session_id}@scheduling.carepath"
    assert (int(old["SEQUENCE"]), int(new["SEQUENCE"])) == (0, 1)
    assert new.decoded("DTSTART") == moved.starts_at
    assert str(new["URL"]) == session.join_url and session.join_url in str(new["DESCRIPTION"])


async def test_a_cancelled_session_stays_in_the_feed_as_cancelled(
    ctx: Scheduling, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    session = await book_session(ctx, client_id="c-1", therapist_id="t-1", starts_at=WEDNESDAY_10)
    cancelled = await cancel_session(ctx, session, by=CancelledBy.clinician, reason=None)

    [event] = ICalendar.from_ical(calendar_feed([cancelled], name="x", feed_id="c-1", now=clock.now)).events

    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1
