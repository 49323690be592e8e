"""Secret calendar feed URLs on the real database: made, read without a token, listed, revoked.

One service runs for the whole module (see conftest); each test uses its own ids.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import httpx
from icalendar import Calendar as ICalendar
from pymongo import AsyncMongoClient

from shared.http.auth import Role
from tests.integration.scheduling.service import (
    ADMIN,
    RunningScheduling,
    a_weekday_at,
    bearer,
    new_id,
    weekdays,
)


async def booked_client(
    scheduling: RunningScheduling, *, session_format: str = "video", hour: int = 10
) -> tuple[str, str, dict[str, Any]]:
    """A new client who booked a session with a new therapist proposed to them."""
    therapist, client = new_id("t"), new_id("c")
    await scheduling.set_availability(therapist, weekdays("UTC"))
    await scheduling.propose(client, [therapist])
    starts = a_weekday_at(scheduling.clock, 3, hour)
    booked = await scheduling.http.post(
        "/v1/sessions",
        json={
            "client_id": client,
            "therapist_id": therapist,
            "starts_at": starts.isoformat(),
            "format": session_format,
        },
        headers=bearer(client, Role.client),
    )
    assert booked.status_code == 201, booked.text
    session: dict[str, Any] = booked.json()
    return client, therapist, session


def path_of(url: str) -> str:
    return httpx.URL(url).raw_path.decode()


async def test_a_client_feed_url_serves_their_calendar_without_a_token_until_revoked(
    scheduling: RunningScheduling, mongo_client: AsyncMongoClient[Any]
) -> None:
    client, _, session = await booked_client(scheduling)
    as_client = bearer(client, Role.client)
    database = mongo_client[scheduling.settings.database_name]

    made = await scheduling.http.post(f"/v1/clients/{client}/calendar-feeds", headers=as_client)
    assert made.status_code == 201, made.text
    feed_id, url = made.json()["feed_id"], made.json()["url"]
    token = path_of(url).removeprefix("/v1/calendar-feeds/").removesuffix(".ics")
    assert path_of(url) == f"/v1/calendar-feeds/{token}.ics" and len(token) >= 43

    served = await scheduling.http.get(path_of(url))  # no Authorization header
    own = await scheduling.http.get(f"/v1/clients/{client}/calendar.ics", headers=as_client)
    assert served.status_code == 200 and served.headers["content-type"].startswith("text/calendar")
    assert served.headers["cache-control"] == "private, no-store"
    assert served.content == own.content  # exactly what the client's own calendar shows
    [event] = ICalendar.from_ical(served.content).events
    assert str(event["UID"]) == f"{session['session_id']}@scheduling.carepath"

    [stored] = await database["calendar_feeds"].find({"feed_id": feed_id}).to_list()
    assert stored["_id"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(stored), "only the token's digest is stored"
    read = await database["audit"].find_one(
        {"action": "read", "resource": "calendar", "basis": f"calendar_feed:{feed_id}"}
    )
    assert read is not None and (read["actor"], read["role"], read["client_id"]) == (client, "client", client)
    assert await database["audit"].find_one({"action": "create", "resource_id": feed_id}) is not None

    listed = await scheduling.http.get(f"/v1/clients/{client}/calendar-feeds", headers=as_client)
    assert [f["feed_id"] for f in listed.json()["feeds"]] == [feed_id]
    assert "url" not in listed.json()["feeds"][0] and token not in listed.text

    revoked = await scheduling.http.delete(
        f"/v1/clients/{client}/calendar-feeds/{feed_id}", headers=as_client
    )
    assert revoked.status_code == 204, revoked.text
    gone = await scheduling.http.get(path_of(url))
    assert gone.status_code == 404 and gone.headers["content-type"] == "application/problem+json"
    again = await scheduling.http.delete(f"/v1/clients/{client}/calendar-feeds/{feed_id}", headers=as_client)
    assert again.status_code == 404
    assert (await scheduling.http.get(f"/v1/clients/{client}/calendar-feeds", headers=as_client)).json() == {
        "feeds": []
    }
    assert await database["audit"].find_one({"action": "revoke", "resource_id": feed_id}) is not None


async def test_only_the_person_or_an_admin_makes_or_revokes_a_feed(scheduling: RunningScheduling) -> None:
    client, therapist, _ = await booked_client(scheduling, hour=11)
    stranger = new_id("c")

    for who in (
        bearer(stranger, Role.client),
        bearer(therapist, Role.clinician),
        bearer("svc", Role.service),
    ):
        refused = await scheduling.http.post(f"/v1/clients/{client}/calendar-feeds", headers=who)
        assert refused.status_code == 403, (who, refused.text)
    refused = await scheduling.http.post(
        f"/v1/therapists/{therapist}/calendar-feeds", headers=bearer(client, Role.client)
    )
    assert refused.status_code == 403
    for_client = await scheduling.http.post(f"/v1/clients/{client}/calendar-feeds", headers=ADMIN)
    assert for_client.status_code == 201 and for_client.json()["created_by"] == "admin-1"

    # Another person's feed cannot be revoked through one's own calendar, nor read by its id.
    feed_id = for_client.json()["feed_id"]
    elsewhere = await scheduling.http.delete(
        f"/v1/clients/{stranger}/calendar-feeds/{feed_id}", headers=bearer(stranger, Role.client)
    )
    assert elsewhere.status_code == 404
    assert (await scheduling.http.get(path_of(for_client.json()["url"]))).status_code == 200
    unknown = await scheduling.http.get(f"/v1/calendar-feeds/{'A' * 43}.ics")
    assert unknown.status_code == 404


async def test_a_therapist_feed_shows_their_own_calendar(
    scheduling: RunningScheduling, mongo_client: AsyncMongoClient[Any]
) -> None:
    _, therapist, session = await booked_client(scheduling, hour=12)
    as_therapist = bearer(therapist, Role.clinician)

    made = await scheduling.http.post(f"/v1/therapists/{therapist}/calendar-feeds", headers=as_therapist)
    assert made.status_code == 201, made.text
    served = await scheduling.http.get(path_of(made.json()["url"]))
    own = await scheduling.http.get(f"/v1/therapists/{therapist}/calendar.ics", headers=as_therapist)

    assert served.status_code == 200 and served.content == own.content
    assert session["session_id"].encode() in served.content
    audit = mongo_client[scheduling.settings.database_name]["audit"]
    read = await audit.find_one({"basis": f"calendar_feed:{made.json()['feed_id']}"})
    assert read is not None and (read["resource"], read["actor"], read["role"]) == (
        "therapist_calendar",
        therapist,
        "clinician",
    )


async def test_an_in_person_session_is_in_the_feed_without_a_join_link(scheduling: RunningScheduling) -> None:
    client, _, session = await booked_client(scheduling, session_format="in_person", hour=13)
    made = await scheduling.http.post(
        f"/v1/clients/{client}/calendar-feeds", headers=bearer(client, Role.client)
    )

    served = await scheduling.http.get(path_of(made.json()["url"]))

    [event] = ICalendar.from_ical(served.content).events
    assert event.decoded("DTSTART") - event.decoded("DTEND") == -timedelta(minutes=50)
    assert not {"URL", "LOCATION", "CONFERENCE"} & set(event)
    assert str(event["DESCRIPTION"]) == "In person"
    assert session["join_url"] not in served.content.replace(b"\r\n ", b"").decode()
