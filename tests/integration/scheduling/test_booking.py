"""Booking on the real broker and database: once from an accepted proposal, and over HTTP.

One service runs for the whole module (see conftest); each test uses its own ids. Clients
book only therapists proposed to them (`test_care_follows_consent.py` proves the refusals).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from icalendar import Calendar as ICalendar
from pymongo import AsyncMongoClient

from shared.events.common import Candidate, WeeklyWindow
from shared.events.models import MatchProposed
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
from tests.support.kafka import event, eventually, publish_events


async def test_a_cancelled_slot_can_be_booked_again(scheduling: RunningScheduling) -> None:
    therapist = new_id("t")
    await scheduling.set_availability(therapist, weekdays("UTC"))
    starts = a_weekday_at(scheduling.clock, 3, 10)
    first_client, second_client = new_id("c"), new_id("c")
    await scheduling.propose(first_client, [therapist])
    await scheduling.propose(second_client, [therapist])
    booking = {"client_id": first_client, "therapist_id": therapist, "starts_at": starts.isoformat()}

    booked = await scheduling.http.post(
        "/v1/sessions", json=booking, headers=bearer(first_client, Role.client)
    )
    assert booked.status_code == 201, booked.text
    taken = await scheduling.http.post(
        "/v1/sessions",
        json={**booking, "client_id": second_client},
        headers=bearer(second_client, Role.client),
    )
    assert taken.status_code == 409 and taken.json()["code"] == "slot_taken"

    session_id = booked.json()["session_id"]
    cancelled = await scheduling.http.post(
        f"/v1/sessions/{session_id}/cancel", json={}, headers=bearer(first_client, Role.client)
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    slots = await scheduling.http.get(
        f"/v1/therapists/{therapist}/slots",
        params={"from": starts.isoformat(), "to": (starts + timedelta(hours=1)).isoformat()},
        headers=ADMIN,
    )
    assert [s["starts_at"] for s in slots.json()["slots"]][:1] == [starts.isoformat().replace("+00:00", "Z")]

    again = await scheduling.http.post(
        "/v1/sessions",
        json={**booking, "client_id": second_client},
        headers=bearer(second_client, Role.client),
    )
    assert again.status_code == 201, again.text


async def test_bad_input_is_answered_with_a_problem_naming_it(scheduling: RunningScheduling) -> None:
    therapist, client = new_id("t"), new_id("c")
    put = f"/v1/therapists/{therapist}/availability"

    async def problem(
        answer_status: int, method: str, url: str, body: dict[str, object]
    ) -> dict[str, object]:
        answer = await scheduling.http.request(method, url, json=body, headers=ADMIN)
        assert answer.status_code == answer_status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        found: dict[str, object] = answer.json()
        return found

    unknown_zone = await problem(422, "PUT", put, weekdays("Mars/Olympus_Mons"))
    assert "timezone" in str(unknown_zone["detail"]) and "unknown IANA time zone" in str(
        unknown_zone["detail"]
    )
    overlapping = await problem(
        422,
        "PUT",
        put,
        {
            "timezone": "UTC",
            "weekly": [
                {"day": "monday", "start": "09:00", "end": "12:00"},
                {"day": "monday", "start": "11:00", "end": "14:00"},
            ],
        },
    )
    assert "weekly[1]" in str(overlapping["detail"]) and "overlaps" in str(overlapping["detail"])
    backwards = await problem(
        422, "PUT", put, {"timezone": "UTC", "weekly": [{"day": "monday", "start": "17:00", "end": "09:00"}]}
    )
    assert "weekly[0].end" in str(backwards["detail"]) and "not after start" in str(backwards["detail"])

    await scheduling.set_availability(therapist, weekdays("UTC", horizon_days=30))
    far = a_weekday_at(scheduling.clock, 40, 10)
    override = {"override_reason": "integration_test"}
    outside = await problem(
        422,
        "POST",
        "/v1/sessions",
        {"client_id": client, "therapist_id": therapist, "starts_at": far.isoformat(), **override},
    )
    assert outside["code"] == "outside_horizon"

    first, second = a_weekday_at(scheduling.clock, 3, 10), a_weekday_at(scheduling.clock, 3, 13)
    mine = await scheduling.http.post(
        "/v1/sessions",
        json={"client_id": client, "therapist_id": therapist, "starts_at": first.isoformat(), **override},
        headers=ADMIN,
    )
    other = new_id("c")
    await scheduling.http.post(
        "/v1/sessions",
        json={"client_id": other, "therapist_id": therapist, "starts_at": second.isoformat(), **override},
        headers=ADMIN,
    )
    into_taken = await problem(
        409, "POST", f"/v1/sessions/{mine.json()['session_id']}/reschedule", {"starts_at": second.isoformat()}
    )
    assert into_taken["code"] == "slot_taken"


async def test_callers_act_only_for_themselves(scheduling: RunningScheduling) -> None:
    therapist, client, stranger = new_id("t"), new_id("c"), new_id("c")
    await scheduling.set_availability(therapist, weekdays("UTC"))
    await scheduling.propose(client, [therapist])
    starts = a_weekday_at(scheduling.clock, 3, 11)
    http = scheduling.http

    assert (await http.get(f"/v1/clients/{client}/sessions")).status_code == 401
    other_therapist = await http.put(
        f"/v1/therapists/{therapist}/availability",
        json=weekdays("UTC"),
        headers=bearer(new_id("t"), Role.clinician),
    )
    assert other_therapist.status_code == 403
    for_someone_else = await http.post(
        "/v1/sessions",
        json={"client_id": client, "therapist_id": therapist, "starts_at": starts.isoformat()},
        headers=bearer(stranger, Role.client),
    )
    assert for_someone_else.status_code == 403
    mine = await http.post(
        "/v1/sessions",
        json={"client_id": client, "therapist_id": therapist, "starts_at": starts.isoformat()},
        headers=bearer(client, Role.client),
    )
    assert mine.status_code == 201
    assert (
        await http.get(f"/v1/clients/{client}/sessions", headers=bearer(stranger, Role.client))
    ).status_code == 404
    chosen = await http.get(f"/v1/clients/{client}/sessions", headers=bearer(therapist, Role.clinician))
    assert chosen.status_code == 200 and [s["session_id"] for s in chosen.json()["sessions"]] == [
        mine.json()["session_id"]
    ]


async def test_calendar_feed_shows_a_moved_session_under_the_same_uid_with_a_higher_sequence(
    scheduling: RunningScheduling,
) -> None:
    therapist, client = new_id("t"), new_id("c")
    await scheduling.set_availability(therapist, weekdays("UTC"))
    await scheduling.propose(client, [therapist])
    starts = a_weekday_at(scheduling.clock, 3, 12)
    as_client = bearer(client, Role.client)
    booked = await scheduling.http.post(
        "/v1/sessions",
        json={"client_id": client, "therapist_id": therapist, "starts_at": starts.isoformat()},
        headers=as_client,
    )
    session_id = booked.json()["session_id"]
    moved = await scheduling.http.post(
        f"/v1/sessions/{session_id}/reschedule",
        json={"starts_at": (starts + timedelta(hours=2)).isoformat()},
        headers=as_client,
    )
    assert moved.status_code == 200 and moved.json()["revision"] == 1

    for url, who in (
        (f"/v1/clients/{client}/calendar.ics", as_client),
        (f"/v1/therapists/{therapist}/calendar.ics", bearer(therapist, Role.clinician)),
    ):
        feed = await scheduling.http.get(url, headers=who)
        assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
        [event] = ICalendar.from_ical(feed.content).events
        assert str(event["UID"]) == f"{session_id}@scheduling.carepath" and int(str(event["SEQUENCE"])) == 1
        assert event.decoded("DTSTART") == starts + timedelta(hours=2)
        assert str(event["URL"]) == booked.json()["join_url"]


def proposal(
    client_id: str, match_id: str, therapist_ids: list[str], scheduling: RunningScheduling
) -> MatchProposed:
    return MatchProposed(
        match_id=match_id,
        client_id=client_id,
        intake_id=new_id("intake"),
        candidates=[
            Candidate(therapist_id=t, rank=i + 1, score=0.9 - i / 10) for i, t in enumerate(therapist_ids)
        ],
        expires_at=scheduling.clock.now + timedelta(days=1),
        timezone="Europe/London",
        availability=[WeeklyWindow(day=d, start="17:00", end="20:00") for d in ("tue", "wed", "thu")],  # type: ignore[arg-type]
    )


async def test_an_accepted_proposal_yields_exactly_one_session_booked_however_often_it_comes(
    scheduling: RunningScheduling, mongo_client: AsyncMongoClient[Any]
) -> None:
    client = new_id("c")
    mornings, afternoons = new_id("t-mornings"), new_id("t-afternoons")
    # In New York, afternoons fit a London client's evenings.
    await scheduling.set_availability(mornings, weekdays("America/New_York", "08:00", "11:00"))
    await scheduling.set_availability(afternoons, weekdays("America/New_York", "12:00", "16:00"))
    offered = proposal(client, new_id("match"), [mornings, afternoons], scheduling)
    proposed = event(offered, now=scheduling.clock.now)
    await publish_events(scheduling.kafka, proposed)
    await scheduling.until(client, lambda care: care.proposal(offered.match_id) is not None)
    accepted = await scheduling.accept(offered, afternoons)

    [record] = await scheduling.records_for("session-booked", client, expect=1)

    booked = value_of(record)
    assert booked["therapist_id"] == afternoons and booked["client_id"] == client
    assert (booked["sequence"], booked["kind"], booked["booked_by"]) == (1, "introduction", "system")
    assert booked["match_id"] == offered.match_id
    assert booked["join_url"].startswith(scheduling.settings.video_base_url + "/")
    assert booked["timezone"] == "Europe/London"

    # The same events again (redeliveries), the proposal re-sent under a new event id, the
    # acceptance told again, then another proposal: once that is recorded, the rest was handled.
    later = proposal(client, new_id("match"), [afternoons], scheduling)
    resent = event(proposal(client, offered.match_id, [afternoons], scheduling), now=scheduling.clock.now)
    await publish_events(scheduling.kafka, proposed, accepted, resent)
    await scheduling.accept(offered, afternoons)
    await scheduling.publish(later)
    clients = mongo_client[scheduling.settings.database_name]["clients"]

    async def later_recorded() -> bool:
        document = await clients.find_one({"_id": client})
        return document is not None and later.match_id in {p["match_id"] for p in document["proposals"]}

    await eventually(later_recorded)
    document = await clients.find_one({"_id": client})
    assert document is not None and len(document["sessions"]) == 1
    assert len(await scheduling.records_for("session-booked", client, expect=1, settle=1.0)) == 1
