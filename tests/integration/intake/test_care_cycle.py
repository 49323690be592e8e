"""The treatment plan and check-ins on the real broker: consumed events, versions, change flags."""

from __future__ import annotations

from typing import Any

from shared.http.auth import Role
from tests.integration.intake.service import (
    ADMIN,
    RunningIntake,
    as_client,
    bearer,
    due,
    headers_of,
    in_care,
    new_id,
    pending_check_in,
    value_of,
)
from tests.support.kafka import publish_events
from tests.unit.intake.samples import HIGH_RISK, complete_sections

PLAN: dict[str, Any] = {
    "approach": "cbt",
    "techniques": ["exposure"],
    "goals": [
        {
            "code": "calmer",
            "description": "Feel calm on the morning commute.",
            "target": {"measure": "gad7", "comparison": "below", "value": 8},
        },
        {"code": "train", "target": {"measure": "goal_progress", "comparison": "at_least", "value": 8}},
    ],
    "session_cadence": "weekly",
    "check_in_interval_days": 14,
}


async def client_in_care(intake: RunningIntake) -> tuple[str, str, str]:
    """A client with a submitted intake (PHQ-9 8, GAD-7 14), in care: the introduction was held."""
    client_id, therapist_id = new_id("client"), new_id("therapist")
    me = as_client(client_id)
    created = await intake.http.post(
        "/v1/intakes", json={"client_id": client_id, **complete_sections()}, headers=me
    )
    intake_id = created.json()["id"]
    assert (await intake.http.post(f"/v1/intakes/{intake_id}/submit", headers=me)).status_code == 200
    await in_care(intake, client_id, therapist_id)
    return client_id, therapist_id, intake_id


async def test_a_treatment_plan_change_yields_one_treatment_plan_updated_with_its_version(
    intake: RunningIntake,
) -> None:
    client_id, therapist_id, intake_id = await client_in_care(intake)
    clinician = bearer(therapist_id, Role.clinician)
    url = f"/v1/clients/{client_id}/treatment-plan"

    first = await intake.http.put(url, json=PLAN, headers=clinician)
    assert first.status_code == 201 and first.json()["version"] == 1
    assert (await intake.http.put(url, json=PLAN, headers=clinician)).status_code == 200  # no change
    second = await intake.http.put(url, json={**PLAN, "status": "completed"}, headers=clinician)
    assert second.status_code == 201 and second.json()["version"] == 2

    records = await intake.records("treatment-plan-updated", expect=2, settle=1.0)
    mine = [value_of(r) for r in records if r.key == client_id.encode()]
    assert [(v["version"], v["status"]) for v in mine] == [(1, "active"), (2, "completed")]
    assert mine[0]["therapist_id"] == therapist_id
    assert mine[0]["goals"] == ["calmer", "train"]
    assert "commute" not in str(mine)
    assert {headers_of(r)["correlation_id"] for r in records if r.key == client_id.encode()} == {intake_id}
    versions = await intake.http.get(f"{url}/versions", headers=as_client(client_id))
    assert [v["version"] for v in versions.json()] == [1, 2]
    assert versions.json()[0]["goals"][0]["description"] == "Feel calm on the morning commute."


async def test_only_the_therapist_in_care_or_an_admin_writes_the_plan(intake: RunningIntake) -> None:
    client_id, therapist_id, _ = await client_in_care(intake)
    url = f"/v1/clients/{client_id}/treatment-plan"
    assert (await intake.http.put(url, json=PLAN, headers=as_client(client_id))).status_code == 403
    stranger = bearer(new_id("therapist"), Role.clinician)
    assert (await intake.http.put(url, json=PLAN, headers=stranger)).status_code == 404
    by_admin = await intake.http.put(url, json=PLAN, headers=ADMIN)
    assert by_admin.status_code == 201  # for the therapist in care
    assert by_admin.json()["therapist_id"] == therapist_id


async def test_a_redelivered_check_in_due_creates_one_check_in(intake: RunningIntake) -> None:
    client_id, therapist_id, intake_id = await client_in_care(intake)
    first = due(client_id, therapist_id, "ci-" + client_id, intake_id)
    refired = due(client_id, therapist_id, "ci-" + client_id, intake_id)  # same check-in, new event id
    marker = due(client_id, therapist_id, "marker-" + client_id, intake_id)
    # One key, one partition: once the marker is handled, everything before it was.
    await publish_events(intake.kafka, first, first, refired, marker)
    await pending_check_in(intake, client_id, "marker-" + client_id)
    listed = await intake.http.get(f"/v1/clients/{client_id}/check-ins", headers=as_client(client_id))
    assert [c["id"] for c in listed.json()] == ["ci-" + client_id, "marker-" + client_id]
    assert listed.json()[0]["status"] == "pending"


async def test_a_check_in_cycle_yields_check_in_completed_with_change_flags_and_review_reasons(
    intake: RunningIntake,
) -> None:
    client_id, therapist_id, intake_id = await client_in_care(intake)
    clinician = bearer(therapist_id, Role.clinician)
    await intake.http.put(f"/v1/clients/{client_id}/treatment-plan", json=PLAN, headers=clinician)
    check_in_id = "ci-" + client_id
    await publish_events(intake.kafka, due(client_id, therapist_id, check_in_id, intake_id))
    await pending_check_in(intake, client_id, check_in_id)
    pending = await intake.http.get(f"/v1/check-ins/{check_in_id}", headers=as_client(client_id))
    assert pending.json()["goals_to_rate"] == ["calmer", "train"]

    answers = {
        "phq9": [1, 1, 1, 1, 1, 1, 1, 1, 0],  # 8, as at intake
        "gad7": [1, 1, 1, 1, 1, 0, 0],  # 5, from 14
        "goal_progress": [{"goal": "calmer", "score": 6}, {"goal": "train", "score": 4}],
        "note": "Took the bus twice this week.",
    }
    answered = await intake.http.post(
        f"/v1/check-ins/{check_in_id}/responses", json=answers, headers=as_client(client_id)
    )
    assert answered.status_code == 200, answered.text
    again = await intake.http.post(
        f"/v1/check-ins/{check_in_id}/responses", json=answers, headers=as_client(client_id)
    )
    assert again.json()["result"] == answered.json()["result"]

    records = await intake.records("check-in-completed", expect=1, settle=1.0)
    (record,) = [r for r in records if r.key == client_id.encode()]
    data = value_of(record)
    assert (data["check_in_id"], data["therapist_id"]) == (check_in_id, therapist_id)
    assert data["phq9"]["total"] == 8 and data["gad7"]["total"] == 5
    assert data["change"] == {
        "phq9_delta": 0,
        "gad7_delta": -9,
        "reliable_improvement": True,
        "reliable_deterioration": False,
        "response": False,
        "remission": False,
        "recovery": True,
    }
    assert data["goals_reached"] == ["calmer"]
    assert (data["plan_review_suggested"], data["review_reasons"]) == (True, ["goal_target_reached"])
    assert headers_of(record)["correlation_id"] == intake_id
    assert "bus" not in record.value.decode()


async def test_a_positive_re_screen_at_a_check_in_flags_risk_first(intake: RunningIntake) -> None:
    client_id, therapist_id, intake_id = await client_in_care(intake)
    check_in_id = "ci-" + client_id
    await publish_events(intake.kafka, due(client_id, therapist_id, check_in_id, intake_id))
    await pending_check_in(intake, client_id, check_in_id)
    answered = await intake.http.post(
        f"/v1/check-ins/{check_in_id}/responses",
        json={**HIGH_RISK, "gad7": [3] * 7},
        headers=as_client(client_id),
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["result"]["risk_level"] == "high"
    assert answered.json()["crisis_resources"]
    flagged = [r for r in await intake.records("risk-flagged", expect=1) if r.key == client_id.encode()]
    completed = [
        r for r in await intake.records("check-in-completed", expect=1) if r.key == client_id.encode()
    ]
    (risk,), (done,) = flagged, completed
    assert risk.timestamp <= done.timestamp  # the relay sends the next only once the first is confirmed
    assert value_of(risk)["check_in_id"] == check_in_id
    assert value_of(done)["change"]["reliable_deterioration"] is True
    assert value_of(done)["review_reasons"] == ["reliable_deterioration", "elevated_risk"]
