"""Nobody is left waiting in silence: proposals say why they came, an introduction's attendance
says what follows, an unanswered check-in is reminded of once, repeated misses prompt the therapist.

Runs on the real broker and database, with a real SMTP server; events are published as
their producers would publish them.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email.message import EmailMessage

from tests.integration.notifications.service import RunningNotifications, new_id
from tests.support.kafka import event, publish_events
from tests.unit.notifications import samples

SETTLE_SECONDS = 2.0  # several timer sweeps (0.5 s) and consumer polls: what was due has gone


def subjects(mails: list[EmailMessage]) -> list[str]:
    return [str(m["Subject"]) for m in mails]


def body_of(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


async def kinds_delivered_to(n: RunningNotifications, recipient_id: str) -> list[str]:
    return sorted({d["kind"] for d in await n.deliveries(recipient_id)})


async def test_the_waitlist_a_waitlist_match_and_a_lapsed_proposal_each_reach_the_client_in_their_words(
    notifications: RunningNotifications,
) -> None:
    n = notifications
    client, spanish = new_id("client"), new_id("client")
    await n.register(client, email=f"{client}@example.org")
    await n.register(spanish, email=f"{spanish}@example.org", locale="es-MX")

    await n.publish(samples.match_proposed(client, 0, origin="intake", waitlisted=True, match_id=new_id("m")))
    await n.publish(
        samples.match_proposed(client, 0, origin="waitlist", waitlisted=True, match_id=new_id("m"))
    )
    await n.publish(samples.match_proposed(client, 2, origin="waitlist", match_id=new_id("m")))
    await n.publish(samples.match_proposed(client, 3, origin="expired", match_id=new_id("m")))
    await n.publish(
        samples.match_proposed(spanish, 0, origin="intake", waitlisted=True, match_id=new_id("m"))
    )

    await n.until(lambda: len(n.mails_to(f"{client}@")) >= 3 and bool(n.mails_to(f"{spanish}@")))
    await asyncio.sleep(SETTLE_SECONDS)

    # One partition, in order: the re-match that found nobody was handled before the later ones.
    assert sorted(subjects(n.mails_to(f"{client}@"))) == [
        "A therapist is now available for you",
        "New therapist matches for you",
        "You are on our waitlist",
    ]
    (renewed,) = [m for m in n.mails_to(f"{client}@") if m["Subject"] == "New therapist matches for you"]
    assert "earlier therapist proposal lapsed" in body_of(renewed) and "3 fresh therapists" in body_of(
        renewed
    )
    (waitlisted,) = [m for m in n.mails_to(f"{client}@") if m["Subject"] == "You are on our waitlist"]
    assert "as soon as a therapist is free" in body_of(waitlisted)
    assert subjects(n.mails_to(f"{spanish}@")) == ["Estás en nuestra lista de espera"]


async def test_a_no_show_introduction_tells_the_client_with_the_offered_slots_and_the_therapist_nothing(
    notifications: RunningNotifications,
) -> None:
    n = notifications
    client, therapist, session = new_id("client"), new_id("therapist"), new_id("session")
    await n.register(client, email=f"{client}@example.org", timezone="Europe/Madrid")
    await n.register(therapist, role="therapist", email=f"{therapist}@example.org")
    await n.publish(samples.session_booked(client, therapist, session_id=session))
    await n.until(lambda: bool(n.mails_to(f"{client}@") and n.mails_to(f"{therapist}@")))

    await n.publish(samples.session_attendance_recorded(client, therapist, session_id=session))
    await n.until(lambda: len(n.mails_to(f"{client}@")) == 2)

    told = n.mails_to(f"{client}@")[-1]
    assert told["Subject"] == "Your introduction session did not take place"
    body = body_of(told)
    assert "care has not started yet" in body
    assert "- Wednesday, March 11, 2026 at 4:00 PM CET" in body  # the client's zone, earliest first
    assert "- Thursday, March 12, 2026 at 4:00 PM CET" in body
    assert f"/sessions/{session}/rebook" in body
    assert await kinds_delivered_to(n, therapist) == ["session_booked"]  # claimed with the client's: none


async def test_a_held_introduction_and_the_first_plan_tell_the_client_what_comes_next(
    notifications: RunningNotifications,
) -> None:
    n = notifications
    client, therapist, session = new_id("client"), new_id("therapist"), new_id("session")
    await n.register(client, email=f"{client}@example.org")
    await n.register(therapist, role="therapist", email=f"{therapist}@example.org")

    await n.publish(
        samples.session_attendance_recorded(client, therapist, session_id=session, attendance="held")
    )
    await n.publish(samples.treatment_plan_updated(client, version=1))
    await n.until(lambda: len(n.mails_to(f"{client}@")) == 2)

    assert sorted(subjects(n.mails_to(f"{client}@"))) == [
        "Your care has started",
        "Your treatment plan is ready to read",
    ]
    (plan,) = [m for m in n.mails_to(f"{client}@") if m["Subject"] == "Your treatment plan is ready to read"]
    assert "confirm that you have read it" in body_of(plan)
    assert n.mails_to(f"{therapist}@") == []


async def test_the_check_in_reminder_goes_once_when_unanswered_and_never_after_an_answer_or_a_miss(
    notifications: RunningNotifications,
) -> None:
    n = notifications
    unanswered, answered, missed, therapist = (new_id(p) for p in ("client", "client", "client", "therapist"))
    for client in (unanswered, answered, missed):
        await n.register(client, email=f"{client}@example.org")
    await n.register(therapist, role="therapist", email=f"{therapist}@example.org")
    due_at = n.clock()
    check_ins = {client: new_id("checkin") for client in (unanswered, answered, missed)}
    due = {
        client: event(samples.check_in_due(client, check_in_id=check_in_id, due_at=due_at))
        for client, check_in_id in check_ins.items()
    }

    await publish_events(n.kafka, *due.values())
    await publish_events(n.kafka, due[unanswered])  # delivered again
    await n.until(lambda: all(n.mails_to(f"{client}@") for client in check_ins))  # each client asked
    await n.publish(  # a reliable deterioration: the therapist's alert shows it was handled
        samples.check_in_completed(answered, check_in_id=check_ins[answered], therapist_id=therapist)
    )
    await n.publish(
        samples.check_in_missed(
            missed, therapist, check_in_id=check_ins[missed], due_at=due_at, consecutive_missed=2
        )
    )
    await n.until(lambda: len(n.mails_to(f"{therapist}@")) == 2)  # the answer and the miss handled

    n.clock.now = due_at + timedelta(hours=72)
    await n.until(lambda: len(n.mails_to(f"{unanswered}@")) == 2)
    await asyncio.sleep(SETTLE_SECONDS)
    n.clock.advance(timedelta(days=3))  # and long after
    await asyncio.sleep(SETTLE_SECONDS)

    assert subjects(n.mails_to(f"{unanswered}@")) == [
        "Time for your check-in",
        "Reminder: your check-in is waiting",
    ]
    for client in (answered, missed):
        assert subjects(n.mails_to(f"{client}@")) == ["Time for your check-in"], client
        assert await kinds_delivered_to(n, client) == ["check_in_due"], client


async def test_two_check_ins_missed_in_a_row_prompt_the_therapist_and_one_does_not(
    notifications: RunningNotifications,
) -> None:
    n = notifications
    client, therapist = new_id("client"), new_id("therapist")
    await n.register(therapist, role="therapist", email=f"{therapist}@example.org")
    first = samples.check_in_missed(client, therapist, check_in_id=new_id("checkin"), consecutive_missed=1)
    second = samples.check_in_missed(client, therapist, check_in_id=new_id("checkin"), consecutive_missed=2)

    await n.publish(first)
    await n.publish(second)  # same topic and key: handled after the first
    await n.until(lambda: bool(n.mails_to(f"{therapist}@")))
    await asyncio.sleep(SETTLE_SECONDS)

    (prompt,) = n.mails_to(f"{therapist}@")
    assert prompt["Subject"] == f"Client {client} has missed their check-ins"
    assert "missed 2 check-ins in a row" in body_of(prompt)
    assert f"/clients/{client}/check-ins/{second.check_in_id}" in body_of(prompt)
