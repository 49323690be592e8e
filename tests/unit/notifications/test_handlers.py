"""The event handlers on the in-memory fakes: deliveries claimed, held, attempted, retried, escalated."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from icalendar import Calendar

from services.notifications.channels import permanent, transient
from services.notifications.domain.delivery import DeliveryStatus
from services.notifications.handlers.on_check_in_completed import on_check_in_completed
from services.notifications.handlers.on_check_in_due import on_check_in_due
from services.notifications.handlers.on_match_proposed import on_match_proposed
from services.notifications.handlers.on_risk_flagged import on_risk_flagged
from services.notifications.handlers.on_session_attendance_recorded import on_session_attendance_recorded
from services.notifications.handlers.on_session_booked import on_session_booked
from services.notifications.handlers.on_session_cancelled import on_session_cancelled
from services.notifications.handlers.on_session_rescheduled import on_session_rescheduled
from services.notifications.store.inbox import inbox_page
from shared.storage import Document
from tests.support.fakes import InMemoryDocuments
from tests.unit.notifications import samples
from tests.unit.notifications.harness import Harness, envelope_of, harness

EVERYWHERE = {"phone": "+15550001111", "push_token": "push-token-0001"}
QUIET_NIGHTS = {"start": "22:00", "end": "07:00"}
NOBODY_DISTURBS = {
    "channels": {"email": False, "sms": False, "push": False},
    "quiet_hours": {"start": "00:00", "end": "23:59"},
}


async def registered(h: Harness) -> None:
    await h.register("client-1", email="client@example.org")
    await h.register("therapist-1", role="therapist", email="therapist@example.org")


async def test_session_booked_sends_one_email_each_to_client_and_therapist_with_a_calendar() -> None:
    h = harness()
    await registered(h)
    event = samples.session_booked()

    await on_session_booked(h.ctx)(event, envelope_of(event))
    await h.run_due_timers()

    emails = h.sent("email")
    assert sorted(o.address for o in emails) == ["client@example.org", "therapist@example.org"]
    for outbound in emails:
        (attachment,) = outbound.attachments
        assert Calendar.from_ical(attachment.data).walk("VEVENT")[0]["UID"] == "session-1@carepath"
    assert len(h.events("notification-delivered")) == 4  # two e-mails, two in-app entries


async def test_second_delivery_of_session_booked_sends_no_second_email() -> None:
    h = harness()
    await registered(h)
    event = samples.session_booked()
    envelope = envelope_of(event)

    await on_session_booked(h.ctx)(event, envelope)
    await h.run_due_timers()
    await on_session_booked(h.ctx)(event, envelope)
    await h.run_due_timers()

    assert len(h.sent("email")) == 2
    assert len(h.events("notification-delivered")) == 4


async def test_an_unregistered_recipient_still_finds_the_message_in_the_app() -> None:
    h = harness()
    event = samples.check_in_due()

    await on_check_in_due(h.ctx)(event, envelope_of(event))
    await h.run_due_timers()

    inbox = await inbox_page(h.stores, "client-1", now=h.clock.now, offset=0, limit=20)
    assert (len(inbox.entries), inbox.total) == (1, 1)
    assert h.sent("email") == []


async def test_opted_out_channels_are_not_used() -> None:
    h = harness()
    await h.register("client-1", email="client@example.org", **EVERYWHERE)
    await h.prefer("client-1", channels={"sms": False}, kinds={"check_in_due": {"email": False}})
    event = samples.check_in_due()

    await on_check_in_due(h.ctx)(event, envelope_of(event))
    await h.run_due_timers()

    assert (len(h.sent("email")), len(h.sent("sms")), len(h.sent("push"))) == (0, 0, 1)


async def test_a_message_in_quiet_hours_is_held_and_sent_when_they_end() -> None:
    h = harness()
    h.clock.now = samples.NOW.replace(hour=4)  # 23:00 in New York
    await h.register("client-1", email="client@example.org")
    await h.prefer("client-1", quiet_hours=QUIET_NIGHTS)
    event = samples.check_in_due()

    await on_check_in_due(h.ctx)(event, envelope_of(event))

    assert await h.run_due_timers() == 0
    (email,) = await h.stores.deliveries.find({"channel": "email"})
    assert email["status"] == DeliveryStatus.held
    assert email["not_before"] == samples.NOW.replace(hour=12)  # 07:00 EST
    await h.advance(timedelta(hours=7, minutes=59))
    assert h.sent("email") == []
    await h.advance(timedelta(minutes=1))
    assert len(h.sent("email")) == 1


async def test_risk_flag_reaches_client_and_on_call_at_once_against_opt_outs_and_quiet_hours() -> None:
    h = harness()
    h.clock.now = samples.NOW.replace(hour=4)  # the middle of everyone's night
    for recipient in ("client-1", "oncall-1"):
        await h.register(recipient, email=f"{recipient}@example.org", **EVERYWHERE)
        await h.prefer(recipient, **NOBODY_DISTURBS)
    event = samples.risk_flagged()

    await on_risk_flagged(h.ctx)(event, envelope_of(event))  # no timer needs to run

    for channel in ("email", "sms", "push"):
        assert {o.recipient_id for o in h.sent(channel)} == {"client-1", "oncall-1"}, channel
    crisis = next(o for o in h.sent("sms") if o.recipient_id == "client-1")
    assert "988" in crisis.message.short and "741741" in crisis.message.short
    assert all(o.critical for o in h.sent("email"))
    assert h.sent("email", "oncall-2") == []  # reached: no escalation


async def test_an_undeliverable_page_escalates_to_the_next_on_call_clinician() -> None:
    h = harness()
    await h.register("oncall-1", role="on_call", email="oncall-1@example.org")
    await h.register("oncall-2", role="on_call", phone="+15550002222")
    h.senders["email"].fail_with(permanent("smtp_550"))
    event = samples.risk_flagged()

    await on_risk_flagged(h.ctx)(event, envelope_of(event))
    await h.run_due_timers()  # the escalation check runs as a timer

    assert h.sent("email", "oncall-1") == []
    assert [o.message.short[:6] for o in h.sent("sms", "oncall-2")] == ["URGENT"]
    alert = (await h.stores.alerts.find({}))[0]
    assert alert["paged"] == ["oncall-1", "oncall-2"]
    (failed,) = h.events("notification-failed")
    assert (failed.data.recipient_id, failed.data.reason) == ("oncall-1", "smtp_550")  # type: ignore[attr-defined]


async def test_an_on_call_clinician_without_any_outside_channel_is_skipped_at_once() -> None:
    h = harness(rota=("oncall-1", "oncall-2"))
    await h.register("oncall-2", role="on_call", email="oncall-2@example.org")
    event = samples.risk_flagged()

    await on_risk_flagged(h.ctx)(event, envelope_of(event))

    assert [o.recipient_id for o in h.sent("email")] == ["oncall-2"]


async def test_a_transient_failure_is_retried_with_growing_backoff_and_delivered_once() -> None:
    h = harness()
    await h.register("client-1", email="client@example.org")
    h.senders["email"].fail_with(transient("smtp_451"), transient("smtp_451"))
    event = samples.check_in_due()

    await on_check_in_due(h.ctx)(event, envelope_of(event))
    await h.run_due_timers()
    (email,) = await h.stores.deliveries.find({"channel": "email"})
    assert (email["status"], email["next_attempt_at"]) == (
        DeliveryStatus.retrying,
        samples.NOW + timedelta(seconds=30),
    )
    await h.advance(timedelta(seconds=30))
    (email,) = await h.stores.deliveries.find({"channel": "email"})
    assert email["next_attempt_at"] == h.clock() + timedelta(seconds=60)
    await h.advance(timedelta(seconds=60))

    assert len(h.sent("email")) == 1
    delivered = [e for e in h.events("notification-delivered") if e.data.channel == "email"]  # type: ignore[attr-defined]
    assert len(delivered) == 1
    assert h.events("notification-failed") == []


async def test_retries_are_bounded_and_the_failure_is_published_with_its_reason() -> None:
    h = harness(max_attempts=3)
    await h.register("client-1", email="client@example.org")
    h.senders["email"].fail_with(*(transient("smtp_451") for _ in range(3)))
    event = samples.check_in_due()

    await on_check_in_due(h.ctx)(event, envelope_of(event))
    for _ in range(3):
        await h.advance(timedelta(minutes=10))

    (email,) = await h.stores.deliveries.find({"channel": "email"})
    assert (email["status"], email["attempts"], email["reason"]) == (
        DeliveryStatus.failed,
        3,
        "retries_exhausted_smtp_451",
    )
    assert [e.data.reason for e in h.events("notification-failed")] == ["retries_exhausted_smtp_451"]  # type: ignore[attr-defined]


async def test_a_permanent_failure_is_not_retried() -> None:
    h = harness()
    await h.register("client-1", email="client@example.org")
    h.senders["email"].fail_with(permanent("smtp_550"))
    event = samples.check_in_due()

    await on_check_in_due(h.ctx)(event, envelope_of(event))
    await h.run_due_timers()
    await h.advance(timedelta(hours=2))

    (email,) = await h.stores.deliveries.find({"channel": "email"})
    assert (email["status"], email["attempts"], email["reason"]) == (DeliveryStatus.failed, 1, "smtp_550")


class CountedSessions(InMemoryDocuments):
    """Counts the sessions' inserts and their changes under a lease (`upsert`)."""

    def __init__(self) -> None:
        super().__init__("sessions")
        self.inserts = 0
        self.upserts = 0

    async def insert(self, document: Any, events: Any = (), *, cause: Any = None) -> bool:
        self.inserts += 1
        return await super().insert(document, events, cause=cause)

    async def upsert(self, document_id: str, change: Any, *, cause: Any = None) -> Document | None:
        self.upserts += 1
        return await super().upsert(document_id, change, cause=cause)


async def test_a_session_new_here_is_created_by_one_insert_with_no_change_under_a_lease() -> None:
    h = harness()
    kept = CountedSessions()
    object.__setattr__(h.stores, "sessions", kept)
    booked = samples.session_booked()

    await on_session_booked(h.ctx)(booked, envelope_of(booked))

    assert (kept.inserts, kept.upserts) == (1, 0)
    session = await kept.get("session-1")
    assert session is not None and session["starts_at"] == samples.STARTS
    assert sorted(i for i in h.timers.pending() if i.startswith("reminder:")) == [
        "reminder:session-1:1h",
        "reminder:session-1:24h",
    ]


async def test_a_redelivered_booking_changes_its_session_nothing_more_and_keeps_its_reminders() -> None:
    h = harness()
    kept = CountedSessions()
    object.__setattr__(h.stores, "sessions", kept)
    booked = samples.session_booked()
    envelope = envelope_of(booked)
    await on_session_booked(h.ctx)(booked, envelope)
    first = await kept.get("session-1")

    await on_session_booked(h.ctx)(booked, envelope)

    assert await kept.get("session-1") == first
    assert kept.upserts == 1  # the insert found this cause's session: its cause changes nothing
    assert len([i for i in h.timers.pending() if i.startswith("reminder:")]) == 2


async def test_a_booking_after_its_reschedule_changes_the_session_under_its_lease_keeping_its_time() -> None:
    h = harness()
    kept = CountedSessions()
    object.__setattr__(h.stores, "sessions", kept)
    moved = samples.session_rescheduled(starts_at=samples.STARTS + timedelta(days=2))
    await on_session_rescheduled(h.ctx)(moved, envelope_of(moved))
    booked = samples.session_booked()
    upserts = kept.upserts

    await on_session_booked(h.ctx)(booked, envelope_of(booked))

    session = await kept.get("session-1")
    assert session is not None and session["starts_at"] == samples.STARTS + timedelta(days=2)
    assert session["join_url"] == booked.join_url
    assert kept.upserts == upserts + 1  # its insert refused, the booking changes what is there


async def test_a_sessions_client_and_therapist_are_read_at_once_each_once() -> None:
    h = harness()
    await registered(h)
    recipients = h.stores.recipients
    asked: list[str] = []
    both_asked = asyncio.Event()

    async def get(document_id: str, *, writing: bool = False) -> Document | None:
        asked.append(document_id)
        if len(asked) == 2:
            both_asked.set()
        async with asyncio.timeout(1):
            await both_asked.wait()  # one read alone, not joined by the other, would time out
        return await type(recipients).get(recipients, document_id, writing=writing)

    object.__setattr__(recipients, "get", get)
    booked = samples.session_booked()

    await on_session_booked(h.ctx)(booked, envelope_of(booked))

    assert sorted(asked) == ["client-1", "therapist-1"]
    assert len(h.sent("email")) == 2


async def test_reminders_are_set_at_booking_moved_by_a_reschedule_and_dropped_on_cancel() -> None:
    h = harness()
    booked = samples.session_booked()
    await on_session_booked(h.ctx)(booked, envelope_of(booked))
    assert {i: t.due_at for i, t in h.timers.pending().items() if i.startswith("reminder:")} == {
        "reminder:session-1:24h": samples.STARTS - timedelta(hours=24),
        "reminder:session-1:1h": samples.STARTS - timedelta(hours=1),
    }

    moved = samples.session_rescheduled(starts_at=samples.STARTS + timedelta(days=2))
    await on_session_rescheduled(h.ctx)(moved, envelope_of(moved))
    assert {i: t.due_at for i, t in h.timers.pending().items() if i.startswith("reminder:")} == {
        "reminder:session-1:24h": samples.STARTS + timedelta(days=1),
        "reminder:session-1:1h": samples.STARTS + timedelta(days=2, hours=-1),
    }

    cancelled = samples.session_cancelled()
    await on_session_cancelled(h.ctx)(cancelled, envelope_of(cancelled))
    assert not [i for i in h.timers.pending() if i.startswith("reminder:")]


async def test_reminders_fire_24_hours_and_1_hour_before_the_session() -> None:
    h = harness()
    await registered(h)
    booked = samples.session_booked()
    await on_session_booked(h.ctx)(booked, envelope_of(booked))
    await h.run_due_timers()

    await h.advance(samples.STARTS - timedelta(hours=24, seconds=1) - h.clock())
    assert [o.kind for o in h.sent("email")] == ["session_booked"] * 2
    await h.advance(timedelta(seconds=1))
    assert sorted(o.message.subject for o in h.sent("email")[2:]) == [
        "Reminder: session with client client-1 in 24 hours",
        "Reminder: your session is in 24 hours",
    ]
    await h.advance(timedelta(hours=23))
    assert [o.kind for o in h.sent("email")[4:]] == ["session_reminder"] * 2
    assert all("1 hour" in o.message.subject for o in h.sent("email")[4:])


async def test_a_reminder_that_fired_before_a_reschedule_fires_again_for_the_new_time() -> None:
    h = harness()
    await registered(h)
    booked = samples.session_booked()
    await on_session_booked(h.ctx)(booked, envelope_of(booked))
    await h.advance(samples.STARTS - timedelta(hours=24) - h.clock())  # the 24 h reminder went out
    later = samples.STARTS + timedelta(days=7)

    moved = samples.session_rescheduled(starts_at=later)
    await on_session_rescheduled(h.ctx)(moved, envelope_of(moved))
    sent_before = len(h.sent("email"))
    await h.advance(later - timedelta(hours=24) - h.clock())

    reminders = [o for o in h.sent("email")[sent_before:] if o.kind == "session_reminder"]
    assert len(reminders) == 2
    assert all("March 17" in o.message.body for o in reminders)


async def test_check_in_with_reliable_deterioration_alerts_the_therapist_on_their_channels() -> None:
    h = harness()
    await registered(h)
    event = samples.check_in_completed()

    await on_check_in_completed(h.ctx)(event, envelope_of(event))
    await h.run_due_timers()

    (email,) = h.sent("email")
    assert email.recipient_id == "therapist-1"
    assert email.message.subject == "Client client-1's check-in needs your attention"


async def test_a_no_show_introduction_offers_the_client_the_next_slots_in_the_sessions_zone() -> None:
    h = harness()
    await h.register("client-1", email="client@example.org", timezone=None)  # no zone of their own
    await h.register("therapist-1", role="therapist", email="therapist@example.org")
    booked = samples.session_booked()  # in America/New_York
    await on_session_booked(h.ctx)(booked, envelope_of(booked))
    await h.run_due_timers()
    no_show = samples.session_attendance_recorded(attendance="no_show")

    await on_session_attendance_recorded(h.ctx)(no_show, envelope_of(no_show))
    await h.run_due_timers()

    (told,) = [o for o in h.sent("email", "client-1") if o.kind == "introduction_missed"]
    assert "- Wednesday, March 11, 2026 at 11:00 AM EDT" in told.message.body
    assert "/sessions/session-1/rebook" in told.message.body
    assert [o.kind for o in h.sent("email", "therapist-1")] == ["session_booked"]  # nothing new


async def test_a_held_introduction_tells_the_client_and_a_therapy_sessions_attendance_nobody() -> None:
    h = harness()
    await registered(h)
    held = samples.session_attendance_recorded(attendance="held")
    therapy = samples.session_attendance_recorded(
        session_id="session-2", attendance="no_show", kind="therapy"
    )

    await on_session_attendance_recorded(h.ctx)(held, envelope_of(held))
    await on_session_attendance_recorded(h.ctx)(therapy, envelope_of(therapy))
    await h.run_due_timers()

    assert [o.kind for o in h.sent("email")] == ["introduction_held"]


async def test_crisis_resources_follow_the_language_the_client_chose_when_the_event_names_none() -> None:
    h = harness()
    await h.register("client-1", phone="+525550001111", locale="es-MX", timezone="America/Mexico_City")
    event = samples.risk_flagged(jurisdiction="MX-CMX")

    await on_risk_flagged(h.ctx)(event, envelope_of(event))

    (crisis,) = h.sent("sms", "client-1")
    assert crisis.message.locale == "es"
    assert "Llama al 800 911 2000" in crisis.message.short and "988" not in crisis.message.short


async def test_a_spanish_crisis_message_stays_spanish_for_a_client_who_chose_english_here() -> None:
    h = harness()
    await h.register("client-1", phone="+525550001111", locale="en")
    event = samples.risk_flagged(jurisdiction="MX-CMX", language="es")

    await on_risk_flagged(h.ctx)(event, envelope_of(event))

    (crisis,) = h.sent("sms", "client-1")
    assert crisis.message.short.startswith("Carepath: hay apoyo para ti ahora")  # discreet: on a lock screen


async def test_a_waitlisted_client_is_told_once_and_not_again_on_every_rematch_attempt() -> None:
    h = harness()
    await h.register("client-1", email="client@example.org")
    waitlisted = samples.match_proposed(candidates=0, waitlisted=True, origin="intake")
    attempts = [
        samples.match_proposed(candidates=0, waitlisted=True, origin="waitlist", match_id=f"match-{n}")
        for n in (2, 3)
    ]
    matched = samples.match_proposed(candidates=2, origin="waitlist", match_id="match-4")

    for event in (waitlisted, *attempts, matched):
        await on_match_proposed(h.ctx)(event, envelope_of(event))
    await h.run_due_timers()

    assert sorted(o.message.subject for o in h.sent("email")) == [
        "A therapist is now available for you",
        "You are on our waitlist",
    ]
