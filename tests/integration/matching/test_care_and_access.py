"""Care follows consent, on the real broker and database: the client's booking chooses, and
who may read a client's matches follows the care relationship, refusals audited."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient

from services.matching.store.clients import care_of
from shared.care.relationship import CareState
from shared.events.models import TreatmentPlanUpdated
from shared.http.auth import Role
from tests.integration.matching.service import Place, RunningMatching, bearer, candidate_ids, new_id
from tests.support.kafka import eventually, publish_events
from tests.unit.matching.builders import NOW, attended, session_booked

BEST = {"specialties": [{"concern": "anxiety", "years": 12}, {"concern": "depression", "years": 10}]}
PLAIN = {"specialties": [{"concern": "anxiety", "years": 2}]}


async def test_a_clients_own_booking_of_a_proposed_therapists_slot_yields_match_accepted_once(
    matching: RunningMatching,
) -> None:
    t_best = new_id("t-best")
    t_plain = new_id("t-plain")
    place = Place()
    await matching.put_therapists(place, (t_best, BEST), (t_plain, PLAIN))
    data, proposal = await matching.propose(place)
    booked = session_booked(
        t_plain,
        client_id=data.client_id,
        match_id=proposal["match_id"],
        booked_by="client",
        kind="introduction",
    )
    (sent,) = await matching.publish(booked)
    await publish_events(matching.kafka, sent, sent)  # the very same record, delivered twice more
    (accepted,) = await matching.published.wait_for("match-accepted", data.client_id)
    assert accepted["match_id"] == proposal["match_id"] and accepted["therapist_id"] == t_plain
    await asyncio.sleep(2.0)
    assert len(matching.published.of("match-accepted", data.client_id)) == 1
    me = bearer(data.client_id, Role.client)
    (listed,) = (await matching.http.get(f"/v1/clients/{data.client_id}/matches", headers=me)).json()["items"]
    assert listed["status"] == "booked" and listed["accepted_therapist_id"] == t_plain
    chosen = await matching.http.get(
        f"/v1/matches/{proposal['match_id']}", headers=bearer(t_plain, Role.clinician)
    )
    assert chosen.status_code == 200  # the booking chose them: the record is theirs to read


async def test_a_booking_made_at_once_by_the_system_accepts_nothing(matching: RunningMatching) -> None:
    t_best = new_id("t-best")
    place = Place()
    await matching.put_therapists(place, (t_best, BEST))
    data, proposal = await matching.propose(place)
    booked = session_booked(
        t_best,
        client_id=data.client_id,
        match_id=proposal["match_id"],
        booked_by="system",
        kind="introduction",
    )
    await matching.publish(booked)
    me = bearer(data.client_id, Role.client)

    async def booked_by_the_system() -> bool:
        items = (await matching.http.get(f"/v1/clients/{data.client_id}/matches", headers=me)).json()["items"]
        return bool(items[0]["status"] == "booked")

    await eventually(booked_by_the_system)
    assert matching.published.of("match-accepted", data.client_id) == []
    refused = await matching.http.get(
        f"/v1/matches/{proposal['match_id']}", headers=bearer(t_best, Role.clinician)
    )
    assert refused.status_code == 404  # booked for them, never chosen by the client


async def state_of(matching: RunningMatching, client_id: str, therapist_id: str, state: CareState) -> bool:
    client = await matching.app.state.context.clients.get(client_id)
    return care_of(client).state_of(therapist_id, datetime.now(UTC)) is state


class Reader:
    """One therapist reading one client's matches, both routes at once."""

    def __init__(self, matching: RunningMatching, client_id: str, therapist_id: str) -> None:
        self.matching, self.client_id = matching, client_id
        self.headers = bearer(therapist_id, Role.clinician)

    async def answers(self) -> list[int]:
        me = bearer(self.client_id, Role.client)
        items = (await self.matching.http.get(f"/v1/clients/{self.client_id}/matches", headers=me)).json()[
            "items"
        ]
        paths = [f"/v1/clients/{self.client_id}/matches", f"/v1/matches/{items[-1]['match_id']}"]
        return [(await self.matching.http.get(path, headers=self.headers)).status_code for path in paths]

    async def until(self, expected: list[int]) -> None:
        async def answered() -> bool:
            return await self.answers() == expected

        await eventually(answered)


async def audit_of(
    matching: RunningMatching, mongo_client: AsyncMongoClient[Any], client_id: str
) -> list[tuple[str, str, str | None]]:
    entries = mongo_client[matching.settings.database_name]["audit"].find({"client_id": client_id})
    return [(e["actor"], e["action"], e.get("basis")) async for e in entries]


async def test_a_therapist_reads_matches_when_chosen_and_in_care_and_never_when_proposed_or_ended(
    matching: RunningMatching, mongo_client: AsyncMongoClient[Any]
) -> None:
    t_a = new_id("t-a")
    t_b = new_id("t-b")
    place = Place()
    await matching.put_therapists(place, (t_a, BEST), (t_b, PLAIN))
    data, proposal = await matching.propose(place)
    me = bearer(data.client_id, Role.client)
    reader = Reader(matching, data.client_id, t_a)
    assert await reader.answers() == [404, 404]  # proposed
    missing = await matching.http.get("/v1/matches/no-such-match", headers=reader.headers)
    hidden = await matching.http.get(f"/v1/matches/{proposal['match_id']}", headers=reader.headers)
    assert hidden.json() | {"instance": None} == missing.json() | {"instance": None}
    accepted = await matching.http.post(
        f"/v1/matches/{proposal['match_id']}/accept", json={"therapist_id": t_a}, headers=me
    )
    assert accepted.status_code == 200, accepted.text
    assert await reader.answers() == [200, 200]  # chosen
    assert await Reader(matching, data.client_id, t_b).answers() == [404, 404]  # withdrawn
    await matching.publish(attended(t_a, client_id=data.client_id, match_id=proposal["match_id"]))
    await eventually(lambda: state_of(matching, data.client_id, t_a, CareState.in_care))
    assert await reader.answers() == [200, 200]  # in care
    plan = TreatmentPlanUpdated.model_validate(
        {
            "client_id": data.client_id,
            "therapist_id": t_a,
            "version": 3,
            "status": "completed",
            "approach": "cbt",
            "session_cadence": "weekly",
            "check_in_interval_days": 14,
            "updated_at": NOW,
        }
    )
    await matching.publish(plan)
    await reader.until([404, 404])  # ended: the plan was completed
    trail = await audit_of(matching, mongo_client, data.client_id)
    assert (t_a, "refused", "proposed") in trail and (t_a, "read", "chosen") in trail
    assert (t_a, "read", "in_care") in trail and (t_a, "refused", "ended") in trail
    assert (t_b, "refused", "withdrawn") in trail


async def test_a_therapist_the_client_switched_from_or_declined_reads_nothing_more(
    matching: RunningMatching, mongo_client: AsyncMongoClient[Any]
) -> None:
    t_first = new_id("t-first")
    t_next = new_id("t-next")
    t_third = new_id("t-third")
    place = Place()
    await matching.put_therapists(place, (t_first, BEST), (t_next, PLAIN), (t_third, PLAIN))
    data, proposal = await matching.propose(place)
    me = bearer(data.client_id, Role.client)
    await matching.http.post(
        f"/v1/matches/{proposal['match_id']}/accept", json={"therapist_id": t_first}, headers=me
    )
    await matching.publish(
        session_booked(t_first, client_id=data.client_id, match_id=proposal["match_id"], kind="introduction"),
        attended(t_first, client_id=data.client_id, match_id=proposal["match_id"]),
    )
    first = Reader(matching, data.client_id, t_first)

    async def in_care() -> bool:
        client = await matching.app.state.context.clients.get(data.client_id)
        return bool(client and client.get("therapist_id") == t_first)

    await eventually(in_care)
    switched = await matching.http.post(f"/v1/clients/{data.client_id}/switch", headers=me)
    assert switched.status_code == 200, switched.text
    new = switched.json()["proposal"]
    assert new["origin"] == "switch" and t_first not in candidate_ids(new)
    assert await first.answers() == [200, 200]  # still in care until the client chooses another
    chosen = await matching.http.post(
        f"/v1/matches/{new['match_id']}/accept", json={"therapist_id": t_next}, headers=me
    )
    assert chosen.status_code == 200
    assert await first.answers() == [404, 404]  # switched away from
    following = Reader(matching, data.client_id, t_next)
    assert await following.answers() == [200, 200]
    declined = await matching.http.post(
        f"/v1/matches/{new['match_id']}/decline", json={"therapist_id": t_next}, headers=me
    )
    assert declined.status_code == 200
    assert await following.answers() == [404, 404]  # declined
    trail = await audit_of(matching, mongo_client, data.client_id)
    assert (t_first, "refused", "ended") in trail and (t_next, "refused", "ended") in trail


async def test_someone_elses_client_may_not_see_or_choose_their_matches(matching: RunningMatching) -> None:
    t_a = new_id("t-a")
    place = Place()
    await matching.put_therapists(place, (t_a, BEST))
    data, proposal = await matching.propose(place)
    stranger = bearer("client-stranger", Role.client)
    match_id = proposal["match_id"]
    assert (
        await matching.http.get(f"/v1/clients/{data.client_id}/matches", headers=stranger)
    ).status_code == 404
    assert (await matching.http.get(f"/v1/matches/{match_id}", headers=stranger)).status_code == 404
    assert (await matching.http.post(f"/v1/matches/{match_id}/accept", headers=stranger)).status_code == 404
    therapist = bearer(t_a, Role.clinician)
    assert (await matching.http.post(f"/v1/matches/{match_id}/accept", headers=therapist)).status_code == 403
    admin = bearer("ops", Role.admin)
    assert (await matching.http.get(f"/v1/matches/{match_id}", headers=admin)).status_code == 200
