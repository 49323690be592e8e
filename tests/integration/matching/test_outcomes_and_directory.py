"""Outcome records moving the ranking, and the admin directory API, on the real broker and database."""

from __future__ import annotations

from typing import Any

from shared.http.auth import Role
from tests.integration.matching.service import ADMIN, Place, RunningMatching, bearer, candidate_ids, new_id
from tests.support.kafka import eventually
from tests.unit.matching.builders import check_in

TWINS = {"specialties": [{"concern": "anxiety", "years": 5}, {"concern": "depression", "years": 5}]}


async def test_outcome_records_move_the_ranking_in_the_expected_direction(matching: RunningMatching) -> None:
    place = Place()
    helped, harmed = new_id("t-helped"), new_id("t-harmed")
    # Equal profiles: before any record the tie goes to the smaller id.
    first_id, second_id = sorted([helped, harmed])
    await matching.put_therapists(place, (helped, TWINS), (harmed, TWINS))
    _, before = await matching.propose(place)
    assert candidate_ids(before) == [first_id, second_id]

    past_clients = [new_id("past") for _ in range(8)]
    await matching.publish(
        *[check_in(helped, client_id=c, improved=True) for c in past_clients],
        *[check_in(harmed, client_id=c, deteriorated=True) for c in past_clients],
    )
    outcomes = matching.app.state.context.outcomes

    async def recorded() -> bool:
        for therapist_id in (helped, harmed):
            document = await outcomes.get(f"{therapist_id}:anxiety")
            if document is None or len(document["clients"]) < len(past_clients):
                return False
        return True

    await eventually(recorded)
    _, after = await matching.propose(place)
    assert candidate_ids(after) == [helped, harmed]
    factors = [c["factors"]["outcomes"] for c in after["candidates"]]
    assert factors[0] > factors[1]
    assert "strong_outcomes_in_your_concerns" in after["candidates"][0]["reasons"]


def a_profile(place: Place, **overrides: Any) -> dict[str, Any]:
    return place.therapist(**overrides)


async def test_bad_admin_input_gets_a_problem_naming_the_field(matching: RunningMatching) -> None:
    place = Place()
    cases = {
        "body.capacity": a_profile(place) | {"capacity": "many"},
        "body.languages.0": a_profile(place) | {"languages": ["English"]},
        "body.formats.0": a_profile(place) | {"formats": ["carrier_pigeon"]},
        "body.in_person_regions": a_profile(place) | {"formats": ["in_person"], "in_person_regions": []},
        "body.price_per_session": {k: v for k, v in a_profile(place).items() if k != "price_per_session"},
    }
    for field, payload in cases.items():
        answer = await matching.http.put("/v1/therapists/t-bad", json=payload, headers=ADMIN)
        assert answer.status_code == 422, field
        assert answer.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in answer.json()["errors"]], answer.json()
    oversized = await matching.http.put(
        "/v1/therapists/t-bad",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers=ADMIN | {"content-type": "application/json"},
    )
    assert oversized.status_code == 413
    missing = await matching.http.get("/v1/therapists/t-never-put", headers=ADMIN)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


async def test_only_admins_write_the_directory(matching: RunningMatching) -> None:
    place = Place()
    therapist_id = new_id("t")
    for role in (Role.client, Role.clinician, Role.service):
        refused = await matching.http.put(
            f"/v1/therapists/{therapist_id}", json=a_profile(place), headers=bearer(therapist_id, role)
        )
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    assert (
        await matching.http.put(f"/v1/therapists/{therapist_id}", json=a_profile(place))
    ).status_code == 401
    assert (await matching.http.get(f"/v1/therapists/{therapist_id}", headers=ADMIN)).status_code == 404
    created = await matching.http.put(f"/v1/therapists/{therapist_id}", json=a_profile(place), headers=ADMIN)
    assert created.status_code == 201
    own = await matching.http.get(
        f"/v1/therapists/{therapist_id}", headers=bearer(therapist_id, Role.clinician)
    )
    assert own.status_code == 200 and own.json()["profile"]["licensed_jurisdictions"] == [place.jurisdiction]
    listed = await matching.http.get(
        "/v1/therapists", params={"jurisdiction": place.jurisdiction}, headers=ADMIN
    )
    assert [t["therapist_id"] for t in listed.json()["items"]] == [therapist_id]
