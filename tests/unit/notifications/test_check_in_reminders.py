"""An unanswered check-in is reminded of once; an answer or an expiry stops it; repeated misses prompt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notifications import timers
from services.notifications.domain.check_ins import reminder_time, reminder_timer_id
from services.notifications.domain.delivery import DeliveryStatus
from services.notifications.handlers.on_check_in_completed import on_check_in_completed
from services.notifications.handlers.on_check_in_due import on_check_in_due
from services.notifications.handlers.on_check_in_missed import on_check_in_missed
from services.notifications.handlers.on_check_in_reminder_timer import on_check_in_reminder_timer
from shared.storage.timers import Timer
from tests.unit.notifications import samples
from tests.unit.notifications.harness import CHECK_IN_REMINDER_AFTER, Harness, envelope_of, harness

DUE = samples.NOW + timedelta(days=3)
REMIND_AT = DUE + CHECK_IN_REMINDER_AFTER


def reminders(h: Harness) -> list[str]:
    return [o.message.subject for o in h.sent("email", "client-1") if o.kind == "check_in_reminder"]


async def due(h: Harness) -> None:
    await h.register("client-1", email="client@example.org")
    await h.register("therapist-1", role="therapist", email="therapist@example.org")
    event = samples.check_in_due(due_at=DUE)
    await on_check_in_due(h.ctx)(event, envelope_of(event))
    await h.run_due_timers()


def test_the_reminder_is_keyed_by_the_check_in_and_due_after_the_due_time() -> None:
    due_at = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)

    assert reminder_timer_id("checkin-1") == "check-in-reminder:checkin-1"
    assert reminder_time(due_at, timedelta(hours=72)) == datetime(2026, 3, 8, 9, 0, tzinfo=UTC)


async def test_an_unanswered_check_in_is_reminded_once_72_hours_after_it_fell_due() -> None:
    h = harness()
    await due(h)
    assert h.timers.pending()[reminder_timer_id("checkin-1")].due_at == REMIND_AT

    await h.advance(REMIND_AT - timedelta(seconds=1) - h.clock())
    assert reminders(h) == []
    await h.advance(timedelta(seconds=1))
    assert reminders(h) == ["Reminder: your check-in is waiting"]
    assert h.sent("email", "therapist-1") == []  # the therapist hears of misses, not of reminders

    again = samples.check_in_due(due_at=DUE)  # redelivered, and re-published under another id
    await on_check_in_due(h.ctx)(again, envelope_of(again))
    await h.advance(timedelta(days=10))
    assert len(reminders(h)) == 1


async def test_a_reminder_timer_that_fires_twice_reminds_once() -> None:
    h = harness()
    await due(h)
    timer = Timer(
        id=reminder_timer_id("checkin-1"),
        kind=timers.CHECK_IN_REMINDER,
        due_at=REMIND_AT,
        attempts=1,
        payload={"check_in_id": "checkin-1"},
    )
    h.clock.now = REMIND_AT

    await on_check_in_reminder_timer(h.ctx)(timer)
    await on_check_in_reminder_timer(h.ctx)(timer)  # a worker died before marking it fired
    await h.run_due_timers()

    assert len(reminders(h)) == 1


async def test_an_answered_check_in_is_never_reminded() -> None:
    h = harness()
    await due(h)
    answered = samples.check_in_completed(deterioration=False, review=False)

    await on_check_in_completed(h.ctx)(answered, envelope_of(answered))
    await h.advance(timedelta(days=10))

    assert reminders(h) == []
    assert reminder_timer_id("checkin-1") not in h.timers.pending()


async def test_a_missed_check_in_is_never_reminded() -> None:
    h = harness()
    await due(h)
    missed = samples.check_in_missed(consecutive_missed=1, due_at=DUE)

    await on_check_in_missed(h.ctx)(missed, envelope_of(missed))
    await h.advance(timedelta(days=10))

    assert reminders(h) == []
    assert h.sent("email", "therapist-1") == []  # a single miss prompts nobody


async def test_a_check_in_answered_before_its_due_event_came_is_neither_announced_nor_reminded() -> None:
    h = harness()
    await h.register("client-1", email="client@example.org")
    answered = samples.check_in_completed(deterioration=False, review=False)
    await on_check_in_completed(h.ctx)(answered, envelope_of(answered))

    late = samples.check_in_due(due_at=DUE)
    await on_check_in_due(h.ctx)(late, envelope_of(late))
    await h.advance(timedelta(days=10))

    assert h.sent("email", "client-1") == []
    assert h.timers.pending() == {}


async def test_a_reminder_held_by_quiet_hours_is_withdrawn_when_the_check_in_is_answered() -> None:
    h = harness()
    await due(h)
    await h.prefer("client-1", quiet_hours={"start": "22:00", "end": "07:00"})
    await h.advance(REMIND_AT - h.clock())  # 05:00 in New York: the reminder is held
    (held,) = await h.stores.deliveries.find({"kind": "check_in_reminder", "channel": "email"})
    assert held["status"] == DeliveryStatus.held

    answered = samples.check_in_completed(deterioration=False, review=False)
    await on_check_in_completed(h.ctx)(answered, envelope_of(answered))
    await h.advance(timedelta(hours=12))

    assert reminders(h) == []
    (withdrawn,) = await h.stores.deliveries.find({"kind": "check_in_reminder", "channel": "email"})
    assert (withdrawn["status"], withdrawn["reason"]) == (DeliveryStatus.expired, "check_in_closed")
    assert [e.data.reason for e in h.events("notification-failed")] == ["check_in_closed"] * 2  # type: ignore[attr-defined]


async def test_two_missed_check_ins_in_a_row_prompt_the_therapist_once_however_often_delivered() -> None:
    h = harness()
    await h.register("therapist-1", role="therapist", email="therapist@example.org")
    first = samples.check_in_missed(check_in_id="checkin-1", consecutive_missed=1)
    second = samples.check_in_missed(check_in_id="checkin-2", consecutive_missed=2)

    await on_check_in_missed(h.ctx)(first, envelope_of(first))
    await h.run_due_timers()
    assert h.sent("email", "therapist-1") == []

    envelope = envelope_of(second)
    await on_check_in_missed(h.ctx)(second, envelope)
    await on_check_in_missed(h.ctx)(second, envelope)
    await h.run_due_timers()

    (prompt,) = h.sent("email", "therapist-1")
    assert prompt.message.subject == "Client client-1 has missed their check-ins"
    assert "missed 2 check-ins in a row" in prompt.message.body
