"""Free text is sealed at rest and reaches no log or event; each caller sees only what is theirs."""

from __future__ import annotations

import io
import json
from typing import Any

from pymongo import AsyncMongoClient

from shared.http.auth import Role
from tests.integration.intake.service import (
    ADMIN,
    RunningIntake,
    as_client,
    bearer,
    chosen,
    due,
    in_care,
    new_id,
    pending_check_in,
)
from tests.support.kafka import publish_events
from tests.unit.intake.samples import complete_sections

BACKGROUND = "My brother Tobias hurt me when I was nine; I never told anyone."
GOAL = "Speak to Tobias about the summer of 1998."
MEDICATION = "fluoxetine-zz-20mg"
PLAN_GOAL = "Rehearse the conversation with Tobias in session."
NOTE = "Called Tobias on Sunday and hung up twice."
SECRETS = (BACKGROUND, GOAL, MEDICATION, PLAN_GOAL, NOTE, "Tobias")


async def test_free_text_is_not_stored_in_plain_text_and_reaches_no_log_or_event(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any], log_stream: io.StringIO
) -> None:
    client_id, therapist_id = new_id("client"), new_id("therapist")
    me = as_client(client_id)
    sections = complete_sections(
        history={"prior_therapy": False, "medications": [MEDICATION], "background": BACKGROUND},
        goals=[{"code": "family", "kind": "specific_issue", "description": GOAL}],
    )
    created = await intake.http.post("/v1/intakes", json={"client_id": client_id, **sections}, headers=me)
    intake_id = created.json()["id"]
    assert (await intake.http.post(f"/v1/intakes/{intake_id}/submit", headers=me)).status_code == 200
    await in_care(intake, client_id, therapist_id)
    plan = {
        "approach": "psychodynamic",
        "goals": [
            {"code": "family", "description": PLAN_GOAL, "target": {"measure": "goal_progress", "value": 7}}
        ],
    }
    put = await intake.http.put(
        f"/v1/clients/{client_id}/treatment-plan", json=plan, headers=bearer(therapist_id, Role.clinician)
    )
    assert put.status_code == 201, put.text
    await publish_events(intake.kafka, due(client_id, therapist_id, "ci-" + client_id, intake_id))
    await pending_check_in(intake, client_id, "ci-" + client_id)
    answers = {"phq9": [1] * 8 + [0], "gad7": [1] * 7, "goal_progress": [{"goal": "family", "score": 3}]}
    answered = await intake.http.post(
        f"/v1/check-ins/ci-{client_id}/responses", json={**answers, "note": NOTE}, headers=me
    )
    assert answered.status_code == 200, answered.text

    # The owner reads it all back in the clear...
    read = (await intake.http.get(f"/v1/intakes/{intake_id}", headers=me)).json()
    assert (read["history"]["background"], read["goals"][0]["description"]) == (BACKGROUND, GOAL)
    assert (await intake.http.get(f"/v1/check-ins/ci-{client_id}", headers=me)).json()["note"] == NOTE

    # ...while the database holds only ciphertext,
    database = mongo_client[intake.settings.database_name]
    for collection in ("intakes", "treatment_plans", "check_ins", "clients", "audit"):
        raw = json.dumps([d async for d in database[collection].find({})], default=str)
        assert not [s for s in SECRETS if s in raw], collection
    # no event carries free text,
    for topic in ("intake-completed", "treatment-plan-updated", "check-in-completed"):
        records = [r for r in await intake.records(topic, expect=1) if r.key == client_id.encode()]
        assert records and not [s for s in SECRETS if any(s.encode() in r.value for r in records)], topic
    # and no log line does, though the service logged the reads it audited.
    logged = log_stream.getvalue()
    assert "clinical data accessed" in logged
    assert not [s for s in SECRETS if s in logged]


async def test_every_read_and_change_of_clinical_data_is_audited_with_ids_only(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any]
) -> None:
    client_id = new_id("client")
    created = await intake.http.post(
        "/v1/intakes", json={"client_id": client_id, **complete_sections()}, headers=as_client(client_id)
    )
    intake_id = created.json()["id"]
    journey = "0e6f2b1a-7d3c-4f5e-8a9b-1c2d3e4f5a6b"  # a correlation id must be a UUID
    await intake.http.get(f"/v1/intakes/{intake_id}", headers={**ADMIN, "X-Correlation-ID": journey})
    audit = mongo_client[intake.settings.database_name]["audit"]
    entries = [e async for e in audit.find({"resource_id": intake_id})]
    trail = sorted((e["actor"], e["role"], e["action"], e["resource"], e["client_id"]) for e in entries)
    assert trail == [
        ("admin-1", "admin", "read", "intake", client_id),
        (client_id, "client", "create", "intake", client_id),
    ]
    (read,) = [e for e in entries if e["action"] == "read"]
    assert read["correlation_id"] == journey and read["at"] is not None
    assert "Panic" not in str(entries)


async def test_a_client_cannot_read_another_clients_record(intake: RunningIntake) -> None:
    owner, other = new_id("client"), new_id("client")
    created = await intake.http.post(
        "/v1/intakes", json={"client_id": owner, **complete_sections()}, headers=as_client(owner)
    )
    intake_id = created.json()["id"]
    them = as_client(other)
    assert (await intake.http.get(f"/v1/intakes/{intake_id}", headers=them)).status_code == 404
    assert (await intake.http.get(f"/v1/intakes/{intake_id}/fhir", headers=them)).status_code == 404
    assert (await intake.http.patch(f"/v1/intakes/{intake_id}", json={}, headers=them)).status_code == 404
    assert (await intake.http.post(f"/v1/intakes/{intake_id}/submit", headers=them)).status_code == 404
    for path in ("intakes", "check-ins", "treatment-plan", "treatment-plan/versions", "referral"):
        assert (await intake.http.get(f"/v1/clients/{owner}/{path}", headers=them)).status_code == 404, path
    started_for_owner = await intake.http.post("/v1/intakes", json={"client_id": owner}, headers=them)
    assert started_for_owner.status_code == 404
    assert (await intake.http.get(f"/v1/intakes/{intake_id}")).status_code == 401


async def test_a_clinician_reads_only_the_records_of_clients_who_chose_them(intake: RunningIntake) -> None:
    client_id, therapist_id = new_id("client"), new_id("therapist")
    created = await intake.http.post(
        "/v1/intakes", json={"client_id": client_id, **complete_sections()}, headers=as_client(client_id)
    )
    intake_id = created.json()["id"]
    stranger = bearer(new_id("therapist"), Role.clinician)
    assert (await intake.http.get(f"/v1/intakes/{intake_id}", headers=stranger)).status_code == 404
    assert (await intake.http.get(f"/v1/clients/{client_id}/check-ins", headers=stranger)).status_code == 404

    await chosen(intake, client_id, therapist_id)
    theirs = bearer(therapist_id, Role.clinician)
    assert (await intake.http.get(f"/v1/intakes/{intake_id}", headers=theirs)).status_code == 200
    assert (await intake.http.get(f"/v1/intakes/{intake_id}", headers=stranger)).status_code == 404
