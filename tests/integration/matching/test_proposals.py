"""Proposals on the real broker and database: from intake-completed to match-proposed and back."""

from __future__ import annotations

import asyncio

from shared.events.envelope import Envelope
from shared.http.auth import Role
from tests.integration.matching.service import ADMIN, Place, RunningMatching, bearer, candidate_ids
from tests.support.kafka import eventually, publish_events
from tests.unit.matching.builders import booking_failed, session_booked

BEST = {"specialties": [{"concern": "anxiety", "years": 12}, {"concern": "depression", "years": 10}]}
PLAIN = {"specialties": [{"concern": "anxiety", "years": 2}]}
WEAK = {"specialties": [], "approaches": ["solution_focused"]}


async def test_an_intake_completed_yields_one_match_proposed_with_the_expected_best_therapist(
    matching: RunningMatching,
) -> None:
    place = Place()
    await matching.put_therapists(
        place, ("t-plain", PLAIN), ("t-best", BEST), ("t-weak", WEAK), ("t-other", PLAIN)
    )
    data = place.intake()
    (sent,) = await matching.publish(data, correlation_id="journey-1")
    (proposal,) = await matching.published.wait_for("match-proposed", data.client_id)
    assert proposal["candidates"][0]["therapist_id"] == "t-best"
    assert candidate_ids(proposal) == ["t-best", "t-other", "t-plain"]
    assert proposal["intake_id"] == data.intake_id and proposal["timezone"] == data.timezone
    first = proposal["candidates"][0]
    assert abs(sum(first["factors"].values()) - first["score"]) < 0.001 and first["reasons"]
    (record,) = matching.published.records_of("match-proposed", data.client_id)
    envelope = Envelope.from_headers({k: v.decode() for k, v in record.headers})
    assert envelope.type == "carepath.match-proposed.v1" and envelope.source == "/carepath/matching"
    assert envelope.correlation_id == "journey-1" and envelope.causation_id == sent.envelope.id
    assert record.key == data.client_id.encode()


async def test_a_redelivered_intake_yields_no_second_proposal(matching: RunningMatching) -> None:
    place = Place()
    await matching.put_therapists(place, ("t-1", PLAIN))
    data = place.intake()
    (sent,) = await matching.publish(data)
    await matching.published.wait_for("match-proposed", data.client_id)
    await publish_events(matching.kafka, sent)  # the very same record again
    await matching.publish(data)  # and the same intake under a new event id
    await asyncio.sleep(2.0)
    assert len(matching.published.of("match-proposed", data.client_id)) == 1


async def test_a_decline_yields_a_new_proposal_without_the_declined_therapist(
    matching: RunningMatching,
) -> None:
    place = Place()
    await matching.put_therapists(place, ("t-best", BEST), ("t-2", PLAIN), ("t-3", PLAIN), ("t-4", WEAK))
    data, proposal = await matching.propose(place)
    me = bearer(data.client_id, Role.client)
    answer = await matching.http.post(
        f"/v1/matches/{proposal['match_id']}/decline", json={"therapist_id": "t-best"}, headers=me
    )
    assert answer.status_code == 200, answer.text
    (declined,) = await matching.published.wait_for("match-declined", data.client_id)
    assert declined["therapist_id"] == "t-best" and declined["match_id"] == proposal["match_id"]
    _, second = await matching.published.wait_for("match-proposed", data.client_id, 2)
    assert "t-best" not in candidate_ids(second)
    assert candidate_ids(second) == ["t-2", "t-3", "t-4"]
    listed = await matching.http.get(f"/v1/clients/{data.client_id}/matches", headers=me)
    assert [m["status"] for m in listed.json()["items"]] == ["proposed", "declined"]


async def test_a_therapist_at_capacity_with_holds_counted_is_never_proposed(
    matching: RunningMatching,
) -> None:
    place = Place()
    await matching.put_therapists(
        place, ("t-small", BEST | {"capacity": 1}), ("t-spare", WEAK | {"capacity": 5})
    )
    _, first = await matching.propose(place)
    assert "t-small" in candidate_ids(first)  # its one place is now held
    _, second = await matching.propose(place)
    assert candidate_ids(second) == ["t-spare"]
    entry = await matching.http.get("/v1/therapists/t-small", headers=ADMIN)
    assert entry.json()["holds"] == 1 and entry.json()["free_capacity"] == 0


async def test_a_failed_booking_proposes_again_without_who_had_no_slot(matching: RunningMatching) -> None:
    place = Place()
    await matching.put_therapists(place, ("t-best", BEST), ("t-2", PLAIN), ("t-3", WEAK))
    data, proposal = await matching.propose(place)
    await matching.publish(booking_failed(proposal["match_id"], client_id=data.client_id, tried=["t-best"]))
    _, again = await matching.published.wait_for("match-proposed", data.client_id, 2)
    assert candidate_ids(again) == ["t-2", "t-3"]


async def test_a_first_session_booked_counts_in_the_caseload_and_frees_the_holds(
    matching: RunningMatching,
) -> None:
    place = Place()
    await matching.put_therapists(place, ("t-a", BEST), ("t-b", PLAIN))
    data, proposal = await matching.propose(place)
    await matching.publish(session_booked("t-a", client_id=data.client_id, match_id=proposal["match_id"]))

    async def counted() -> bool:
        entry = (await matching.http.get("/v1/therapists/t-a", headers=ADMIN)).json()
        other = (await matching.http.get("/v1/therapists/t-b", headers=ADMIN)).json()
        return bool(entry["caseload"] == 1 and entry["holds"] == 0 and other["holds"] == 0)

    await eventually(counted)
    me = bearer(data.client_id, Role.client)
    (listed,) = (await matching.http.get(f"/v1/clients/{data.client_id}/matches", headers=me)).json()["items"]
    assert listed["status"] == "booked" and listed["booked_therapist_id"] == "t-a"
