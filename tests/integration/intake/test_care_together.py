"""Care set together, on the real broker and database: crisis help where the client lives, the
referral summary, plan goals from the intake, the client's acknowledgement, check-ins that expire.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from shared.http.auth import Role
from tests.integration.intake.service import (
    ADMIN,
    CHECK_IN_EXPIRY,
    RunningIntake,
    answers_with,
    as_client,
    bearer,
    due,
    in_care,
    new_id,
    pending_check_in,
    relate,
    value_of,
)
from tests.support.kafka import eventually, publish_events
from tests.unit.intake import samples

BACKGROUND = "Lost my job at the Rotterdam port in March; my sister Ilse found me on the roof."
GOAL = "Tell Ilse what happened on the roof."


async def draft(intake: RunningIntake, client_id: str, **overrides: Any) -> str:
    created = await intake.http.post(
        "/v1/intakes",
        json={"client_id": client_id, **samples.complete_sections(**overrides)},
        headers=as_client(client_id),
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def submitted(intake: RunningIntake, client_id: str, **overrides: Any) -> tuple[str, dict[str, Any]]:
    intake_id = await draft(intake, client_id, **overrides)
    answer = await intake.http.post(f"/v1/intakes/{intake_id}/submit", headers=as_client(client_id))
    assert answer.status_code == 200, answer.text
    return intake_id, answer.json()


async def published(intake: RunningIntake, topic: str, client_id: str) -> list[dict[str, Any]]:
    """The client's events on `topic`, once the relay has sent at least one."""
    found: list[dict[str, Any]] = []

    async def arrived() -> bool:
        records = await intake.records(topic, expect=1)
        found[:] = [value_of(r) for r in records if r.key == client_id.encode()]
        return bool(found)

    await eventually(arrived)
    return found


# ---------------------------------------------------------------------- crisis help where the client is


@pytest.mark.parametrize(
    ("jurisdiction", "languages", "contacts", "spanish"),
    [
        ("GB-ENG", ["en"], {"116 123", "111", "85258", "999 or 112"}, False),
        ("ES-MD", ["es", "en"], {"024", "112"}, True),
        ("MX-JAL", ["en", "es-MX"], {"800 911 2000", "911"}, False),
    ],
)
async def test_a_high_risk_intake_shows_the_crisis_lines_of_the_clients_country_in_their_language(
    intake: RunningIntake, jurisdiction: str, languages: list[str], contacts: set[str], spanish: bool
) -> None:
    client_id = new_id("client")
    _, answer = await submitted(
        intake, client_id, jurisdiction=jurisdiction, languages=languages, **samples.HIGH_RISK
    )
    resources = answer["crisis_resources"]
    assert {r["contact"] for r in resources} == contacts
    assert resources[-1]["name"] == ("Servicios de emergencia" if spanish else "Emergency services")
    (risk,) = await published(intake, "risk-flagged", client_id)
    assert (risk["jurisdiction"], risk["language"]) == (jurisdiction, languages[0])


async def test_an_intake_from_a_country_not_served_is_refused_naming_its_jurisdiction_publishing_nothing(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any]
) -> None:
    client_id = new_id("client")
    intake_id = await draft(intake, client_id, jurisdiction="BR-SP", **samples.HIGH_RISK)
    refused = await intake.http.post(f"/v1/intakes/{intake_id}/submit", headers=as_client(client_id))
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in refused.json()["errors"]] == ["jurisdiction"]
    read = await intake.http.get(f"/v1/intakes/{intake_id}", headers=as_client(client_id))
    assert (read.json()["status"], read.json()["result"]) == ("draft", None)
    raw = await mongo_client[intake.settings.database_name]["intakes"].find_one({"_id": intake_id})
    assert raw is not None and raw["_outbox"] == {}  # no event was ever queued


async def test_a_check_in_answer_shows_crisis_lines_of_the_latest_intakes_country(
    intake: RunningIntake,
) -> None:
    client_id = new_id("client")
    intake_id, _ = await submitted(intake, client_id, jurisdiction="ES-CT", languages=["es"])
    check_in_id = "ci-" + client_id
    await publish_events(intake.kafka, due(client_id, "therapist-1", check_in_id, intake_id))
    await pending_check_in(intake, client_id, check_in_id)
    answered = await intake.http.post(
        f"/v1/check-ins/{check_in_id}/responses",
        json={**samples.HIGH_RISK, "gad7": [3] * 7},
        headers=as_client(client_id),
    )
    assert answered.status_code == 200, answered.text
    resources = answered.json()["crisis_resources"]
    assert [r["contact"] for r in resources] == ["024", "112"]
    assert resources[0]["how"] == "Llama al 024 (gratis, 24/7)"


# ---------------------------------------------------------------------- the referral summary


async def test_a_proposed_therapist_reads_a_referral_summary_without_free_text(intake: RunningIntake) -> None:
    client_id, therapist_id = new_id("client"), new_id("therapist")
    intake_id, _ = await submitted(
        intake,
        client_id,
        history={"prior_therapy": True, "diagnoses": ["major depressive episode"], "background": BACKGROUND},
        goals=[{"code": "family", "description": GOAL}],
        **samples.HIGH_RISK,
    )
    await relate(intake, samples.proposed(client_id, therapist_id))
    theirs = bearer(therapist_id, Role.clinician)
    await answers_with(intake, 200, f"/v1/clients/{client_id}/referral", theirs)
    summary = (await intake.http.get(f"/v1/clients/{client_id}/referral", headers=theirs)).json()
    assert summary["intake_id"] == intake_id
    assert (summary["risk_level"], summary["preferred_format"], summary["jurisdiction"]) == (
        "high",
        "either",
        "US-CA",
    )
    assert summary["concerns"] == ["anxiety", "stress"] and summary["languages"] == ["en", "es-MX"]
    text = str(summary)
    leaked = [s for s in (BACKGROUND, GOAL, "Ilse", "depressive", "family", "cssrs", "phq9") if s in text]
    assert leaked == []
    assert (await intake.http.get(f"/v1/intakes/{intake_id}", headers=theirs)).status_code == 404


# ---------------------------------------------------------------------- the plan, set together


async def test_the_plan_starts_from_the_intakes_goals_and_the_therapist_sees_the_clients_acknowledgement(
    intake: RunningIntake,
) -> None:
    client_id, therapist_id = new_id("client"), new_id("therapist")
    await submitted(intake, client_id, goals=[{"code": "family", "description": GOAL}])
    await in_care(intake, client_id, therapist_id)
    theirs, me = bearer(therapist_id, Role.clinician), as_client(client_id)
    url = f"/v1/clients/{client_id}/treatment-plan"

    drafted = await intake.http.get(f"{url}/draft", headers=theirs)
    assert drafted.status_code == 200, drafted.text
    assert drafted.json()["therapist_id"] == therapist_id and drafted.json()["approach"] == "cbt"
    default = {"measure": "goal_progress", "comparison": "at_least", "value": 7}
    assert drafted.json()["goals"] == [
        {"code": "family", "description": GOAL, "target": default, "from_intake": True}
    ]
    assert (await intake.http.get(f"{url}/draft", headers=me)).status_code == 403

    written = await intake.http.put(url, json={"approach": "cbt"}, headers=theirs)  # no goals: the intake's
    assert written.status_code == 201, written.text
    assert written.json()["goals"] == drafted.json()["goals"]
    assert written.json()["acknowledged_at"] is None

    assert (
        await intake.http.post(f"{url}/acknowledgement", json={"version": 2}, headers=me)
    ).status_code == 409
    assert (
        await intake.http.post(f"{url}/acknowledgement", json={"version": 1}, headers=theirs)
    ).status_code == 403  # the client's alone
    first = await intake.http.post(f"{url}/acknowledgement", json={"version": 1}, headers=me)
    again = await intake.http.post(f"{url}/acknowledgement", json={"version": 1}, headers=me)
    assert first.status_code == again.status_code == 200
    assert first.json()["acknowledged_at"] == again.json()["acknowledged_at"] is not None

    seen = await intake.http.get(url, headers=theirs)
    assert seen.json()["acknowledged_at"] == first.json()["acknowledged_at"]
    revised = await intake.http.put(url, json={"approach": "act", "goals": []}, headers=theirs)
    assert revised.json()["version"] == 2 and revised.json()["acknowledged_at"] is None
    stale = await intake.http.post(f"{url}/acknowledgement", json={"version": 1}, headers=me)
    assert (stale.status_code, stale.json()["code"]) == (409, "not_current_version")
    versions = await intake.http.get(f"{url}/versions", headers=theirs)
    assert [v["acknowledged_at"] is not None for v in versions.json()] == [True, False]
    other_client = as_client(new_id("client"))
    assert (
        await intake.http.post(f"{url}/acknowledgement", json={"version": 2}, headers=other_client)
    ).status_code == 404
    assert (await intake.http.get(f"{url}/draft", headers=ADMIN)).status_code == 200


# ---------------------------------------------------------------------- check-ins that expire


async def test_an_unanswered_check_in_expires_as_missed_with_check_in_missed_and_cannot_be_answered(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any]
) -> None:
    client_id, therapist_id = new_id("client"), new_id("therapist")
    intake_id, _ = await submitted(intake, client_id)
    await in_care(intake, client_id, therapist_id)
    check_in_id = "ci-" + client_id
    due_at = datetime.now(UTC)
    await publish_events(intake.kafka, due(client_id, therapist_id, check_in_id, intake_id, due_at=due_at))
    me = as_client(client_id)

    async def missed() -> bool:
        found = await intake.http.get(f"/v1/check-ins/{check_in_id}", headers=me)
        return found.status_code == 200 and found.json()["status"] == "missed"

    await eventually(missed, timeout=30 + CHECK_IN_EXPIRY.total_seconds())
    listed = await intake.http.get(
        f"/v1/clients/{client_id}/check-ins", headers=bearer(therapist_id, Role.clinician)
    )
    (seen,) = listed.json()
    assert (seen["status"], seen["goals_to_rate"]) == ("missed", [])
    assert datetime.fromisoformat(seen["missed_at"]) >= due_at + CHECK_IN_EXPIRY

    late = await intake.http.post(
        f"/v1/check-ins/{check_in_id}/responses", json={"phq9": [0] * 9, "gad7": [0] * 7}, headers=me
    )
    assert (late.status_code, late.json()["code"]) == (409, "check_in_missed")

    (data,) = await published(intake, "check-in-missed", client_id)
    assert (data["check_in_id"], data["therapist_id"], data["consecutive_missed"]) == (
        check_in_id,
        therapist_id,
        1,
    )
    timer = await mongo_client[intake.settings.database_name]["timers_done"].find_one(
        {"_id": f"check-in-expiry:{check_in_id}"}
    )
    assert timer is not None and timer["status"] == "fired"
