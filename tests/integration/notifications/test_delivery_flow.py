"""Deliveries on the real broker and database, a real SMTP server and a real SMS provider.

A session booked e-mails client and therapist once each with a valid .ics; a message due
in quiet hours waits for their end (an in-app one is not in the inbox until then, then
unread until read); reminders fire 24 h and 1 h before and follow a
reschedule; a provider failing twice then succeeding delivers once; a delivery claimed by a
replica that died before attempting it is sent once the event comes again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar
from pymongo import AsyncMongoClient

from services.notifications.domain.audience import Notice
from services.notifications.domain.delivery import CLAIMED_BY, Origin, new_delivery
from services.notifications.domain.messages import Audience, MessageKind
from services.notifications.rendering import format_instant
from services.notifications.store import DELIVERIES
from shared.events.models import IntakeCompleted
from shared.events.registry import spec_for
from tests.integration.notifications.service import ADMIN, RunningNotifications, new_id
from tests.support.kafka import event, publish_events
from tests.unit.notifications import samples


def calendar_of(mail: EmailMessage) -> Calendar:
    (part,) = [p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return Calendar.from_ical(payload)


def body_of(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def subjects(mails: list[EmailMessage]) -> list[str]:
    return [str(m["Subject"]) for m in mails]


async def test_session_booked_emails_client_and_therapist_once_each_with_a_valid_calendar(
    notifications: RunningNotifications,
) -> None:
    n = notifications
    client, therapist, session = new_id("client"), new_id("therapist"), new_id("session")
    await n.register(client, email=f"{client}@example.org")
    await n.register(therapist, role="therapist", email=f"{therapist}@example.org", locale="es")
    booked = event(samples.session_booked(client, therapist, session_id=session))

    await publish_events(n.kafka, booked)
    await n.until(lambda: bool(n.mails_to(f"{client}@") and n.mails_to(f"{therapist}@")))

    for mail in (*n.mails_to(f"{client}@"), *n.mails_to(f"{therapist}@")):
        vevent = calendar_of(mail).walk("VEVENT")[0]
        assert str(vevent["UID"]) == f"{session}@carepath"
        assert vevent.decoded("DTSTART") == samples.STARTS
        assert vevent.decoded("DTEND") == samples.STARTS + timedelta(minutes=50)
        assert str(vevent["URL"]) == samples.JOIN_URL
        assert samples.JOIN_URL in body_of(mail)
    assert subjects(n.mails_to(f"{client}@")) == ["Your introduction session is booked"]
    assert subjects(n.mails_to(f"{therapist}@")) == [f"Sesión reservada con el cliente {client}"]

    # The same event again (same ce_id), then another event for the client, on the same partition.
    await publish_events(n.kafka, booked)
    await n.publish(samples.check_in_due(client))
    await n.until(lambda: "Time for your check-in" in subjects(n.mails_to(f"{client}@")))

    assert subjects(n.mails_to(f"{client}@")).count("Your introduction session is booked") == 1
    assert len(n.mails_to(f"{therapist}@")) == 1


async def in_quiet_hours(n: RunningNotifications, recipient_id: str) -> datetime:
    """Give the recipient quiet hours from an hour ago until two hours from now; return their end."""
    now = n.clock()
    ends = now + timedelta(hours=2)
    quiet = {"start": f"{now - timedelta(hours=1):%H:%M}", "end": f"{ends:%H:%M}"}
    await n.prefer(recipient_id, quiet_hours=quiet)
    return ends


async def test_a_message_due_in_quiet_hours_is_held_and_sent_when_they_end(
    notifications: RunningNotifications,
) -> None:
    n = notifications
    client = new_id("client")
    await n.register(client, email=f"{client}@example.org", timezone="UTC")
    ends = await in_quiet_hours(n, client)

    await n.publish(samples.check_in_due(client))

    async def held() -> bool:
        return any(d["channel"] == "email" and d["status"] == "held" for d in await n.deliveries(client))

    await n.until_async(held)
    assert n.mails_to(f"{client}@") == []
    n.clock.now = ends.replace(second=0, microsecond=0)
    await n.until(lambda: bool(n.mails_to(f"{client}@")))
    await n.recorded_delivery(client, "email", "delivered")  # fails the test if never recorded so


async def inbox(n: RunningNotifications, recipient_id: str) -> dict[str, Any]:
    answer = await n.http.get(f"/v1/recipients/{recipient_id}/notifications", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    page: dict[str, Any] = answer.json()
    return page


async def test_an_in_app_message_held_by_quiet_hours_is_not_in_the_inbox_until_it_goes_then_unread_until_read(
    notifications: RunningNotifications,
) -> None:
    n = notifications
    client = new_id("client")
    await n.register(client, timezone="UTC")  # the in-app inbox only
    ends = await in_quiet_hours(n, client)

    await n.publish(samples.check_in_due(client))
    await n.recorded_delivery(client, "in_app", "held")  # listed in the log, no entry yet

    assert await inbox(n, client) == {"items": [], "total": 0, "unread": 0, "offset": 0, "limit": 20}
    n.clock.now = ends.replace(second=0, microsecond=0)
    delivered = await n.recorded_delivery(client, "in_app", "delivered")

    listed = await inbox(n, client)
    assert (listed["total"], listed["unread"]) == (1, 1)
    (item,) = listed["items"]
    assert (item["id"], item["kind"], item["read"]) == (delivered["id"], "check_in_due", False)
    read = await n.http.post(f"/v1/recipients/{client}/notifications/{item['id']}/read", headers=ADMIN)
    assert read.status_code == 200 and read.json()["read"] is True
    listed = await inbox(n, client)
    assert (listed["total"], listed["unread"], listed["items"][0]["read"]) == (1, 0, True)


async def session_to_move(n: RunningNotifications) -> tuple[str, str, str, datetime, datetime]:
    """A client and a therapist on file, a session id, its first time and the time it moves to."""
    client, therapist, session = new_id("client"), new_id("therapist"), new_id("session")
    await n.register(client, email=f"{client}@example.org")
    await n.register(therapist, role="therapist", email=f"{therapist}@example.org")
    first = n.clock().replace(second=0, microsecond=0) + timedelta(days=3)
    return client, therapist, session, first, first + timedelta(days=1, hours=2)


def reminder_mails(n: RunningNotifications, to: str, lead: str) -> list[str]:
    """Bodies of the reminders sent to `to` that name `lead` ("in 24 hours", "in 1 hour")."""
    return [body_of(m) for m in n.mails_to(to) if body_of(m).startswith("Reminder") and lead in body_of(m)]


async def until_reminded(n: RunningNotifications, recipients: tuple[str, ...], lead: str) -> None:
    """Wait until each of `recipients` (addresses' starts) has a reminder naming `lead`."""
    await n.until(lambda: all(reminder_mails(n, to, lead) for to in recipients))


async def test_reminders_fire_24_hours_and_1_hour_before_and_follow_a_reschedule(
    notifications: RunningNotifications,
) -> None:
    n = notifications
    client, therapist, session, first, moved_to = await session_to_move(n)
    await n.publish(samples.session_booked(client, therapist, session_id=session, starts_at=first))
    await n.publish(
        samples.session_rescheduled(client, therapist, session_id=session, previous=first, starts_at=moved_to)
    )
    await n.until(lambda: "Your session has moved" in subjects(n.mails_to(f"{client}@")))

    new_time = format_instant(moved_to.astimezone(ZoneInfo("America/New_York")), "en")
    both = (f"{client}@", f"{therapist}@")
    n.clock.now = moved_to - timedelta(hours=24)  # past the first time's 24 h mark too
    await until_reminded(n, both, "in 24 hours")
    n.clock.now = moved_to - timedelta(hours=1)
    await until_reminded(n, both, "in 1 hour")

    for to in both:
        assert len(reminder_mails(n, to, "in 24 hours")) == 1, to
        assert len(reminder_mails(n, to, "in 1 hour")) == 1, to
        assert all(new_time in body for body in reminder_mails(n, to, "")), to


async def test_a_booking_handled_after_its_reschedule_keeps_the_new_time_and_its_reminders(
    notifications: RunningNotifications,
) -> None:
    n = notifications
    client, therapist, session, first, moved_to = await session_to_move(n)
    # The two events travel on different topics: here the reschedule is handled first.
    await n.publish(
        samples.session_rescheduled(client, therapist, session_id=session, previous=first, starts_at=moved_to)
    )
    await n.until(lambda: "Your session has moved" in subjects(n.mails_to(f"{client}@")))
    await n.publish(samples.session_booked(client, therapist, session_id=session, starts_at=first))
    await n.until(lambda: len(n.mails_to(f"{client}@")) >= 2)

    new_time = format_instant(moved_to.astimezone(ZoneInfo("America/New_York")), "en")
    both = (f"{client}@", f"{therapist}@")
    n.clock.now = moved_to - timedelta(hours=1)  # past both marks of the new time, and of the first
    await until_reminded(n, both, "in 1 hour")

    for to in both:
        assert len(reminder_mails(n, to, "in 1 hour")) == 1, to
        assert all(new_time in body for body in reminder_mails(n, to, "")), to


async def test_a_provider_failing_twice_then_succeeding_delivers_once(
    notifications: RunningNotifications,
) -> None:
    n = notifications
    client, phone = new_id("client"), "+15557654321"
    await n.register(client, phone=phone)
    attempts_before = n.provider.attempts
    n.provider.fail_next(2, status=503)

    await n.publish(samples.check_in_due(client))
    await n.until(lambda: bool(n.texts_to(phone)), advance=timedelta(seconds=5))

    assert n.provider.attempts - attempts_before == 3
    assert (await n.recorded_delivery(client, "sms", "delivered"))["attempts"] == 3
    delivered = [v for v in await n.published("notification-delivered", client) if v["channel"] == "sms"]
    assert len(delivered) == 1
    assert len(n.texts_to(phone)) == 1


async def test_a_claim_left_by_a_replica_that_died_before_attempting_is_sent_when_the_event_comes_again(
    notifications: RunningNotifications, mongo_client: AsyncMongoClient[Any]
) -> None:
    n = notifications
    client = new_id("client")
    await n.register(client, email=f"{client}@example.org")
    completed = event(samples.intake_completed(client))
    envelope = completed.envelope
    origin = Origin(envelope.id, spec_for(IntakeCompleted).name, envelope.correlation_id)
    notice = Notice(client, Audience.client, MessageKind.intake_received)
    dead = "notifications@gone:1:dead"
    claimed = {**new_delivery(notice, "email", origin, now=n.clock(), not_before=n.clock()), CLAIMED_BY: dead}
    # The claim, as the replica that died right after it left it: no outcome, no timer; its
    # heartbeat ran out (so nothing can still be attempting it: no waiting out its first attempt).
    database = mongo_client[n.settings.mongodb_database]
    await database["replicas"].insert_one(
        {"_id": dead, "alive_until": datetime.now(UTC) - timedelta(seconds=5)}
    )
    await database[DELIVERIES].insert_one(claimed)

    await publish_events(n.kafka, completed)  # never committed by that replica: it comes again

    email = await n.recorded_delivery(client, "email", "delivered")
    assert email["attempts"] == 1
    assert len(n.mails_to(f"{client}@")) == 1
