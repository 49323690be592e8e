"""Care follows consent, on the real broker and database (issue 16).

Matching's and intake's events are published for real (`match-proposed`, `match-accepted`,
`match-declined`, `treatment-plan-updated`); scheduling consumes them in-process and is
asked over HTTP. What is proven: nothing is booked before the client chooses; a client
books only a therapist proposed to them, an admin outside that only with a reason; the
introduction held starts nothing routine until the plan, which then sets the series'
cadence and the check-ins; a missed introduction starts no care and offers slots the
client can book; and in each state of the care relationship the therapist reaches the
client's sessions and calendar, or gets 404 like for a stranger, every refusal audited.

One service runs for the whole module (see conftest); each test uses its own ids. Tests
move the module's clock forward only (to an introduction's start, past a check-in).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from icalendar import Calendar as ICalendar
from pymongo import AsyncMongoClient

from services.scheduling.domain.care import Care, SessionKind
from shared.care.relationship import CareState
from shared.events.common import PlanStatus, SessionCadence
from shared.events.models import MatchDeclined, MatchProposed
from shared.http.auth import Role
from tests.integration.scheduling.service import (
    ADMIN,
    RunningScheduling,
    a_weekday_at,
    bearer,
    new_id,
    value_of,
    weekdays,
)
from tests.support.kafka import eventually


def clinician(therapist_id: str) -> dict[str, str]:
    return bearer(therapist_id, Role.clinician)


def as_client(client_id: str) -> dict[str, str]:
    return bearer(client_id, Role.client)


async def book(
    scheduling: RunningScheduling,
    client_id: str,
    therapist_id: str,
    starts: datetime,
    who: dict[str, str],
    **extra: Any,
) -> httpx.Response:
    body = {"client_id": client_id, "therapist_id": therapist_id, "starts_at": starts.isoformat(), **extra}
    return await scheduling.http.post("/v1/sessions", json=body, headers=who)


async def status(scheduling: RunningScheduling, path: str, who: dict[str, str]) -> int:
    return (await scheduling.http.get(path, headers=who)).status_code


async def reach(scheduling: RunningScheduling, client_id: str, who: dict[str, str]) -> tuple[int, int]:
    """What `who` gets for the client's sessions and calendar."""
    return (
        await status(scheduling, f"/v1/clients/{client_id}/sessions", who),
        await status(scheduling, f"/v1/clients/{client_id}/calendar.ics", who),
    )


async def therapists(scheduling: RunningScheduling, count: int) -> list[str]:
    found = [new_id("t") for _ in range(count)]
    for therapist_id in found:
        await scheduling.set_availability(therapist_id, weekdays("UTC"))
    return found


async def accepted_introduction(
    scheduling: RunningScheduling, proposed: MatchProposed, therapist_id: str
) -> dict[str, Any]:
    """The client accepts `therapist_id`; the introduction scheduling books for it."""
    await scheduling.accept(proposed, therapist_id)
    care = await scheduling.until(
        proposed.client_id, lambda c: c.upcoming_introduction(therapist_id, scheduling.clock.now) is not None
    )
    intro = care.upcoming_introduction(therapist_id, scheduling.clock.now)
    assert intro is not None
    answer = await scheduling.http.get(f"/v1/sessions/{intro.session_id}", headers=ADMIN)
    return dict(answer.json())


async def held(scheduling: RunningScheduling, intro: dict[str, Any]) -> None:
    """The therapist records the introduction held once it started (the clock moves there)."""
    starts = datetime.fromisoformat(intro["starts_at"])
    scheduling.clock.now = max(scheduling.clock.now, starts + timedelta(minutes=5))
    answer = await scheduling.attend(intro["session_id"], "held", clinician(intro["therapist_id"]))
    assert answer.status_code == 200, answer.text
    assert answer.json()["attendance"] == "held"


async def own_calendar_settles_on(
    scheduling: RunningScheduling, therapist_id: str, expected: list[str]
) -> None:
    """The therapist's own listing shows `expected` (a read model, rewritten after the client's change)."""

    async def shows() -> bool:
        own = await scheduling.http.get(
            f"/v1/therapists/{therapist_id}/sessions", headers=clinician(therapist_id)
        )
        return [s["session_id"] for s in own.json()["sessions"]] == expected

    await eventually(shows, timeout=10.0)


def relationship(care: Care, therapist_id: str, now: datetime) -> CareState | None:
    return care.relationships.state_of(therapist_id, now)


async def refusals(
    scheduling: RunningScheduling, mongo_client: AsyncMongoClient[Any], client_id: str, actor: str
) -> list[dict[str, Any]]:
    audit = mongo_client[scheduling.settings.database_name]["audit"]
    return await audit.find({"client_id": client_id, "actor": actor, "action": "refused"}).to_list()


# ---------------------------------------------------------------------- the client chooses


async def test_a_client_booking_outside_consent_is_refused_and_a_proposed_therapists_slot_is_their_choice(
    scheduling: RunningScheduling,
) -> None:
    proposed_one, stranger = await therapists(scheduling, 2)
    client = new_id("c")
    proposed = await scheduling.propose(client, [proposed_one])
    starts = a_weekday_at(scheduling.clock, 3, 10)

    refused = await book(scheduling, client, stranger, starts, as_client(client))
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert (problem["code"], problem["reason"]) == ("therapist_not_proposed", "never_proposed")
    assert problem["errors"][0]["field"] == "body.therapist_id"
    not_theirs = await book(scheduling, client, proposed_one, starts, clinician(proposed_one))
    assert not_theirs.status_code == 403, "clinicians do not book for a client"

    mine = await book(scheduling, client, proposed_one, starts, as_client(client))

    assert mine.status_code == 201, mine.text
    assert (mine.json()["booked_by"], mine.json()["kind"]) == ("client", "introduction")
    [record] = await scheduling.records_for("session-booked", client, expect=1)
    booked = value_of(record)
    assert (booked["booked_by"], booked["match_id"], booked["therapist_id"]) == (
        "client",
        proposed.match_id,
        proposed_one,
    )
    assert await reach(scheduling, client, clinician(proposed_one)) == (200, 200), "chosen: the record"


async def test_an_admin_books_outside_consent_only_with_a_reason_kept_on_the_session_and_audited(
    scheduling: RunningScheduling, mongo_client: AsyncMongoClient[Any]
) -> None:
    [stranger] = await therapists(scheduling, 1)
    client = new_id("c")
    starts = a_weekday_at(scheduling.clock, 3, 11)

    without = await book(scheduling, client, stranger, starts, ADMIN)
    assert without.status_code == 409 and without.json()["code"] == "therapist_not_proposed"
    assert without.json()["errors"][0]["field"] == "body.override_reason"

    override = await book(scheduling, client, stranger, starts, ADMIN, override_reason="continuity_of_care")

    assert override.status_code == 201, override.text
    session = override.json()
    assert (session["booked_by"], session["override_reason"]) == ("admin", "continuity_of_care")
    [record] = await scheduling.records_for("session-booked", client, expect=1)
    assert value_of(record)["booked_by"] == "admin"
    audit = mongo_client[scheduling.settings.database_name]["audit"]
    entry = await audit.find_one({"resource_id": session["session_id"], "action": "booked_outside_consent"})
    assert entry is not None and (entry["actor"], entry["basis"]) == ("admin-1", "continuity_of_care")
    assert await reach(scheduling, client, clinician(stranger)) == (404, 404), "an override grants nothing"


async def test_under_the_default_policy_nothing_is_booked_until_the_client_accepts(
    scheduling: RunningScheduling,
) -> None:
    first, second = await therapists(scheduling, 2)
    client = new_id("c")
    proposed = await scheduling.propose(client, [first, second])
    assert await scheduling.records_for("session-booked", client, expect=0, settle=1.0) == []
    assert await reach(scheduling, client, clinician(first)) == (404, 404), "proposed: no record"

    accepted = await scheduling.accept(proposed, second)

    [record] = await scheduling.records_for("session-booked", client, expect=1)
    booked = value_of(record)
    assert (booked["therapist_id"], booked["kind"], booked["sequence"]) == (second, "introduction", 1)
    assert (booked["booked_by"], booked["match_id"]) == ("system", proposed.match_id)
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["causation_id"] == accepted.envelope.id


# ---------------------------------------------------------------------- plan before routine


async def test_a_held_introduction_books_no_series_until_the_plan_then_its_cadence_and_check_ins(
    scheduling: RunningScheduling,
) -> None:
    [therapist] = await therapists(scheduling, 1)
    client = new_id("c")
    proposed = await scheduling.propose(client, [therapist])
    intro = await accepted_introduction(scheduling, proposed, therapist)

    await held(scheduling, intro)

    [attended] = await scheduling.records_for("session-attendance-recorded", client, expect=1)
    assert (value_of(attended)["kind"], value_of(attended)["attendance"]) == ("introduction", "held")
    care = await scheduling.until(client, lambda c: c.in_care_with == therapist)
    assert care.series is None and care.check_ins is None
    assert len(await scheduling.records_for("session-booked", client, expect=1, settle=1.0)) == 1

    written = scheduling.clock.now
    await scheduling.plan(client, therapist, version=1, cadence=SessionCadence.biweekly, interval=7)

    records = await scheduling.records_for("session-booked", client, expect=3)
    therapy = sorted((value_of(r) for r in records[1:]), key=lambda b: b["sequence"])
    assert [(b["kind"], b["sequence"], b["booked_by"]) for b in therapy] == [
        ("therapy", 2, "system"),
        ("therapy", 3, "system"),
    ]
    first = datetime.fromisoformat(intro["starts_at"])
    assert [datetime.fromisoformat(b["starts_at"]) - first for b in therapy] == [
        timedelta(days=14),
        timedelta(days=28),
    ]
    listing = (await scheduling.http.get(f"/v1/clients/{client}/sessions", headers=ADMIN)).json()
    assert (listing["series"]["cadence"], listing["check_ins"]["interval_days"]) == ("biweekly", 7)
    assert datetime.fromisoformat(listing["check_ins"]["next_due_at"]) == written + timedelta(days=7)

    scheduling.clock.now = written + timedelta(days=7, hours=1)
    [due] = await scheduling.records_for("check-in-due", client, expect=1)
    assert datetime.fromisoformat(value_of(due)["due_at"]).astimezone(UTC) == written + timedelta(days=7)
    assert value_of(due)["therapist_id"] == therapist


async def test_a_missed_introduction_starts_no_care_and_one_of_the_offered_slots_can_be_booked(
    scheduling: RunningScheduling,
) -> None:
    [therapist] = await therapists(scheduling, 1)
    client = new_id("c")
    proposed = await scheduling.propose(client, [therapist], windows=("tue", "wed", "thu"))
    intro = await accepted_introduction(scheduling, proposed, therapist)
    scheduling.clock.now = max(scheduling.clock.now, datetime.fromisoformat(intro["starts_at"]))

    missed = await scheduling.attend(intro["session_id"], "no_show", clinician(therapist))

    assert missed.status_code == 200, missed.text
    assert missed.json()["status"] == "no_show"
    [record] = await scheduling.records_for("session-attendance-recorded", client, expect=1)
    event = value_of(record)
    offered = [datetime.fromisoformat(s) for s in event["offered_slots"]]
    assert event["attendance"] == "no_show" and 1 <= len(offered) <= 3
    assert all(s.weekday() in (1, 2, 3) and 8 <= s.hour < 18 for s in offered), "inside the client's windows"
    assert all(s >= scheduling.clock.now + timedelta(hours=24) for s in offered), "minimum notice"
    await scheduling.plan(client, therapist, version=1)
    care = await scheduling.until(client, lambda c: c.plan is not None)
    assert care.series is None and care.check_ins is None, "no care: the plan waits"
    assert relationship(care, therapist, scheduling.clock.now) is CareState.chosen

    again = await scheduling.attend(intro["session_id"], "no_show", clinician(therapist))
    assert again.status_code == 200 and again.json()["offered_slots"] == missed.json()["offered_slots"]
    contradicted = await scheduling.attend(intro["session_id"], "held", clinician(therapist))
    assert contradicted.status_code == 409 and contradicted.json()["code"] == "attendance_already_recorded"

    rebooked = await book(scheduling, client, therapist, offered[0], as_client(client))

    assert rebooked.status_code == 201, rebooked.text
    assert (rebooked.json()["kind"], rebooked.json()["booked_by"]) == ("introduction", "client")
    assert datetime.fromisoformat(rebooked.json()["starts_at"]) == offered[0]
    assert len(await scheduling.records_for("session-attendance-recorded", client, expect=1, settle=0.5)) == 1


# ---------------------------------------------------------------------- who sees what


async def test_a_therapist_reaches_the_clients_sessions_while_chosen_or_in_care_and_loses_them_on_a_switch(
    scheduling: RunningScheduling, mongo_client: AsyncMongoClient[Any]
) -> None:
    former, chosen = await therapists(scheduling, 2)
    client = new_id("c")
    proposed = await scheduling.propose(client, [former])
    assert await reach(scheduling, client, clinician(former)) == (404, 404), "proposed"
    assert {r["basis"] for r in await refusals(scheduling, mongo_client, client, former)} == {"proposed"}

    intro = await accepted_introduction(scheduling, proposed, former)
    assert await reach(scheduling, client, clinician(former)) == (200, 200), "chosen"
    await held(scheduling, intro)
    assert await reach(scheduling, client, clinician(former)) == (200, 200), "in care"
    await scheduling.plan(client, former, version=1)
    care = await scheduling.until(client, lambda c: len(c.upcoming(scheduling.clock.now, former)) >= 2)
    cut_off = care.upcoming(scheduling.clock.now, former)[0]

    switch = await scheduling.propose(client, [chosen])
    assert await reach(scheduling, client, clinician(former)) == (200, 200), "nothing moves before the choice"
    await scheduling.accept(switch, chosen)
    care = await scheduling.until(
        client, lambda c: relationship(c, former, scheduling.clock.now) is CareState.ended
    )
    new_intro = care.upcoming_introduction(chosen, scheduling.clock.now)
    assert new_intro is not None and care.upcoming(scheduling.clock.now, former) == []

    assert await reach(scheduling, client, clinician(former)) == (404, 404), "switched"
    assert await reach(scheduling, client, clinician(chosen)) == (200, 200)
    someone_elses = await scheduling.http.get(
        f"/v1/sessions/{new_intro.session_id}", headers=clinician(former)
    )
    missing = await scheduling.http.get(f"/v1/sessions/{new_id('ses')}", headers=clinician(former))
    assert someone_elses.status_code == missing.status_code == 404
    assert {k: v for k, v in someone_elses.json().items() if k != "instance"} == {
        k: v for k, v in missing.json().items() if k != "instance"
    }, "a refusal looks exactly like a session that does not exist"
    future = await scheduling.http.get(f"/v1/sessions/{cut_off.session_id}", headers=clinician(former))
    assert future.status_code == 404
    past = await scheduling.http.get(f"/v1/sessions/{intro['session_id']}", headers=clinician(former))
    assert past.status_code == 200, "their own session before the end"
    moved = await scheduling.http.post(
        f"/v1/sessions/{intro['session_id']}/cancel", json={}, headers=clinician(former)
    )
    assert moved.status_code == 404, "but no longer acts on it"

    await own_calendar_settles_on(scheduling, former, [intro["session_id"]])
    feed = await scheduling.http.get(f"/v1/therapists/{former}/calendar.ics", headers=clinician(former))
    [only] = ICalendar.from_ical(feed.content).events
    assert str(only["UID"]) == f"{intro['session_id']}@scheduling.carepath"
    assert new_intro.join_url not in feed.text
    bases = {r["basis"] for r in await refusals(scheduling, mongo_client, client, former)}
    assert {"proposed", "ended", "not_own_session"} <= bases, bases


async def test_a_declined_therapist_loses_the_clients_sessions_and_the_introduction_is_cancelled(
    scheduling: RunningScheduling, mongo_client: AsyncMongoClient[Any]
) -> None:
    [therapist] = await therapists(scheduling, 1)
    client = new_id("c")
    proposed = await scheduling.propose(client, [therapist])
    intro = await accepted_introduction(scheduling, proposed, therapist)
    assert await reach(scheduling, client, clinician(therapist)) == (200, 200)

    await scheduling.publish(
        MatchDeclined(
            match_id=proposed.match_id,
            client_id=client,
            therapist_id=therapist,
            declined_at=scheduling.clock.now,
        )
    )

    [cancelled] = await scheduling.records_for("session-cancelled", client, expect=1)
    assert (value_of(cancelled)["session_id"], value_of(cancelled)["reason"]) == (
        intro["session_id"],
        "match_declined",
    )
    assert await reach(scheduling, client, clinician(therapist)) == (404, 404), "declined"
    assert "ended" in {r["basis"] for r in await refusals(scheduling, mongo_client, client, therapist)}
    await own_calendar_settles_on(scheduling, therapist, [])  # the cancelled introduction is gone


async def test_a_completed_plan_ends_care_and_the_former_therapist_keeps_only_past_sessions(
    scheduling: RunningScheduling,
) -> None:
    [therapist] = await therapists(scheduling, 1)
    client = new_id("c")
    proposed = await scheduling.propose(client, [therapist])
    intro = await accepted_introduction(scheduling, proposed, therapist)
    await held(scheduling, intro)
    await scheduling.plan(client, therapist, version=1)
    await scheduling.until(client, lambda c: any(s.kind is SessionKind.therapy for s in c.sessions))

    await scheduling.plan(client, therapist, version=2, status=PlanStatus.completed)

    care = await scheduling.until(
        client, lambda c: relationship(c, therapist, scheduling.clock.now) is CareState.ended
    )
    assert care.upcoming(scheduling.clock.now) == []
    assert care.check_ins is not None and not care.check_ins.active
    assert await reach(scheduling, client, clinician(therapist)) == (404, 404), "plan completed"
    assert await reach(scheduling, client, as_client(client)) == (200, 200), "the client keeps their own"
    await own_calendar_settles_on(scheduling, therapist, [intro["session_id"]])
