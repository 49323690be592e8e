"""The waitlist on the real broker and database: an empty proposal waits, and a therapist
with room re-matches the oldest waiting client first, telling those still waiting nothing."""

from __future__ import annotations

import asyncio

from shared.http.auth import Role
from tests.integration.matching.service import ADMIN, Place, RunningMatching, bearer, candidate_ids, new_id
from tests.support.kafka import eventually
from tests.unit.matching.builders import availability_changed, session_booked, session_cancelled


async def test_an_empty_proposal_waits_and_a_therapist_with_room_rematches_the_oldest_waiting_client_first(
    matching: RunningMatching,
) -> None:
    t_one = new_id("t-one")
    place = Place()
    await matching.put_therapists(place, (t_one, {"capacity": 1}))
    holder, held = await matching.propose(place)
    assert candidate_ids(held) == [t_one]  # its one place is now held
    old, old_empty = await matching.propose(place)
    young, young_empty = await matching.propose(place)
    for empty in (old_empty, young_empty):
        assert empty["candidates"] == [] and empty["waitlisted"] is True and empty["origin"] == "intake"
    listed = await matching.http.get(
        f"/v1/clients/{old.client_id}/matches", headers=bearer(old.client_id, Role.client)
    )
    assert listed.json()["waitlisted"] is True and listed.json()["waitlisted_since"] is not None

    # More capacity: room for one, and the oldest waiting client gets it.
    await matching.put_therapists(place, (t_one, {"capacity": 2}))
    _, matched = await matching.published.wait_for("match-proposed", old.client_id, 2)
    assert matched["origin"] == "waitlist" and matched["waitlisted"] is False
    assert matched["predecessor_match_id"] == old_empty["match_id"] and candidate_ids(matched) == [t_one]
    after = await matching.http.get(
        f"/v1/clients/{old.client_id}/matches", headers=bearer(old.client_id, Role.client)
    )
    assert after.json()["waitlisted"] is False
    assert [m["status"] for m in after.json()["items"]] == ["proposed", "superseded"]

    # New hours of a therapist who is full again: nobody can be matched, and nobody is told again.
    await matching.publish(availability_changed(t_one))
    await asyncio.sleep(2.0)
    assert len(matching.published.of("match-proposed", young.client_id)) == 1

    # A place freed (the holder's first session booked, then cancelled): the next in line.
    await matching.publish(session_booked(t_one, client_id=holder.client_id, match_id=held["match_id"]))

    async def in_caseload() -> bool:
        entry = (await matching.http.get(f"/v1/therapists/{t_one}", headers=ADMIN)).json()
        return bool(entry["caseload"] == 1)

    await eventually(in_caseload)
    await matching.publish(session_cancelled(t_one, client_id=holder.client_id))
    _, rematched = await matching.published.wait_for("match-proposed", young.client_id, 2)
    assert rematched["origin"] == "waitlist" and rematched["predecessor_match_id"] == young_empty["match_id"]
    await asyncio.sleep(1.0)
    assert len(matching.published.of("match-proposed", old.client_id)) == 2
    assert len(matching.published.of("match-proposed", young.client_id)) == 2
