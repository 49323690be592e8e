"""Proposals on the real broker and database: from intake-completed to match-proposed and back."""

from __future__ import annotations

import asyncio

from shared.events.envelope import Envelope
from shared.http.auth import Role
from tests.integration.matching.service import ADMIN, Place, RunningMatching, bearer, candidate_ids, new_id
from tests.support.kafka import eventually, publish_events
from tests.unit.matching.builders import booking_failed, session_booked

BEST = {"specialties": [{"concern": "anxiety", "years": 12}, {"concern": "depression", "years": 10}]}
PLAIN = {"specialties": [{"concern": "anxiety", "years": 2}]}
WEAK = {"specialties": [], "approaches": ["solution_focused"]}


async def test_an_intake_completed_yields_one_match_proposed_with_the_expected_best_therapist(
    matching: RunningMatching,
) -> None:
    t_plain, t_best, t_weak, t_other = (
        new_id("t-plain"),
        new_id("t-best"),
        new_id("t-weak"),
        new_id("t-other"),
    )
    place = Place()
    await matching.put_therapists(place, (t_plain, PLAIN), (t_best, BEST), (t_weak, WEAK), (t_other, PLAIN))
    data = place.intake()
    (sent,) = await matching.publish(data, correlation_id="journey-1")
    (proposal,) = await matching.published.wait_for("match-proposed", data.client_id)
    assert proposal["candidates"][0]["therapist_id"] == t_best
    assert candidate_ids(proposal) == [t_best, t_other, t_plain]  # equal fits: the smaller id first
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
    await matching.put_therapists(place, (new_id("t-1"), PLAIN))
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
    t_best, t_2, t_3, t_4 = new_id("t-best"), new_id("t-2"), new_id("t-3"), new_id("t-4")
    place = Place()
    await matching.put_therapists(place, (t_best, BEST), (t_2, PLAIN), (t_3, PLAIN), (t_4, WEAK))
    data, proposal = await matching.propose(place)
    me = bearer(data.client_id, Role.client)
    answer = await matching.http.post(
        f"/v1/matches/{proposal['match_id']}/decline", json={"therapist_id": t_best}, headers=me
    )
    assert answer.status_code == 200, answer.text
    (declined,) = await matching.published.wait_for("match-declined", data.client_id)
    assert declined["therapist_id"] == t_best and declined["match_id"] == proposal["match_id"]
    _, second = await matching.published.wait_for("match-proposed", data.client_id, 2)
    assert t_best not in candidate_ids(second)
    assert candidate_ids(second) == [t_2, t_3, t_4]
    listed = await matching.http.get(f"/v1/clients/{data.client_id}/matches", headers=me)
    assert [m["status"] for m in listed.json()["items"]] == ["proposed", "declined"]


async def test_a_therapist_at_capacity_with_holds_counted_is_never_proposed(
    matching: RunningMatching,
) -> None:
    t_small, t_spare = new_id("t-small"), new_id("t-spare")
    place = Place()
    await matching.put_therapists(place, (t_small, BEST | {"capacity": 1}), (t_spare, WEAK | {"capacity": 5}))
    _, first = await matching.propose(place)
    assert t_small in candidate_ids(first)  # its one place is now held
    _, second = await matching.propose(place)
    assert candidate_ids(second) == [t_spare]
    entry = await matching.http.get(f"/v1/therapists/{t_small}", headers=ADMIN)
    assert entry.json()["holds"] == 1 and entry.json()["free_capacity"] == 0


async def test_a_failed_booking_proposes_again_without_who_had_no_slot(matching: RunningMatching) -> None:
    t_best, t_2, t_3 = new_id("t-best"), new_id("t-2"), new_id("t-3")
    place = Place()
    await matching.put_therapists(place, (t_best, BEST), (t_2, PLAIN), (t_3, WEAK))
    data, proposal = await matching.propose(place)
    await matching.publish(booking_failed(proposal["match_id"], client_id=data.client_id, tried=[t_best]))
    _, again = await matching.published.wait_for("match-proposed", data.client_id, 2)
    assert candidate_ids(again) == [t_2, t_3]


async def test_a_first_session_booked_counts_in_the_caseload_and_frees_the_holds(
    matching: RunningMatching,
) -> None:
    t_a, t_b = new_id("t-a"), new_id("t-b")
    place = Place()
    await matching.put_therapists(place, (t_a, BEST), (t_b, PLAIN))
    data, proposal = await matching.propose(place)
    await matching.publish(session_booked(t_a, client_id=data.client_id, match_id=proposal["match_id"]))

    async def counted() -> bool:
        entry = (await matching.http.get(f"/v1/therapists/{t_a}", headers=ADMIN)).json()
        other = (await matching.http.get(f"/v1/therapists/{t_b}", headers=ADMIN)).json()
        return bool(entry["caseload"] == 1 and entry["holds"] == 0 and other["holds"] == 0)

    await eventually(counted)
    me = bearer(data.client_id, Role.client)
    (listed,) = (await matching.http.get(f"/v1/clients/{data.client_id}/matches", headers=me)).json()["items"]
    assert listed["status"] == "booked" and listed["booked_therapist_id"] == t_a
