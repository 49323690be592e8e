"""Submitting an intake on the real broker and database: events, envelope, order, idempotency, FHIR."""

from __future__ import annotations

import uuid
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from tests.integration.intake.service import RunningIntake, as_client, headers_of, new_id, value_of
from tests.unit.intake.samples import HIGH_RISK, complete_sections

ENVELOPE_HEADERS = {
    "ce_specversion",
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_time",
    "ce_subject",
    "content-type",
    "correlation_id",
}
REQUIRED_FIELDS = {
    "intake_id",
    "client_id",
    "submitted_at",
    "jurisdiction",
    "timezone",
    "languages",
    "concerns",
    "goals",
    "phq9",
    "gad7",
    "risk_level",
    "preferences",
    "availability",
}


async def submitted(intake: RunningIntake, client_id: str, **overrides: Any) -> tuple[str, dict[str, Any]]:
    me = as_client(client_id)
    created = await intake.http.post(
        "/v1/intakes", json={"client_id": client_id, **complete_sections(**overrides)}, headers=me
    )
    assert created.status_code == 201, created.text
    intake_id = str(created.json()["id"])
    answer = await intake.http.post(f"/v1/intakes/{intake_id}/submit", headers=me)
    assert answer.status_code == 200, answer.text
    return intake_id, answer.json()


async def test_a_submitted_intake_yields_one_intake_completed_with_envelope_and_required_fields(
    intake: RunningIntake,
) -> None:
    client_id = new_id("client")
    intake_id, answer = await submitted(intake, client_id)

    assert answer["status"] == "submitted"
    assert answer["phq9"] == {"total": 8, "severity": "mild", "item9": 0}
    assert answer["gad7"] == {"total": 14, "severity": "moderate"}
    assert answer["risk_level"] == "none" and answer["crisis_resources"] is None
    records = await intake.records("intake-completed", expect=1, settle=1.0)
    (record,) = [r for r in records if r.key == client_id.encode()]
    headers = headers_of(record)
    assert set(headers) >= ENVELOPE_HEADERS
    assert uuid.UUID(headers["ce_id"])
    assert headers["ce_source"] == "/carepath/intake"
    assert headers["ce_type"] == "carepath.intake-completed.v1"
    assert headers["ce_subject"] == client_id
    assert headers["correlation_id"] == intake_id
    data = value_of(record)
    assert set(data) >= REQUIRED_FIELDS
    assert (data["intake_id"], data["risk_level"], data["goals"]) == (intake_id, "none", ["reduce_panic"])
    assert data["availability"] == [{"day": "tue", "start": "09:00", "end": "17:00"}]


async def test_a_high_risk_intake_yields_risk_flagged_first_with_crisis_resources(
    intake: RunningIntake,
) -> None:
    client_id = new_id("client")
    intake_id, answer = await submitted(intake, client_id, **HIGH_RISK)

    assert answer["risk_level"] == "high"
    assert {r["contact"] for r in answer["crisis_resources"]} == {"988", "741741", "911"}
    flagged = [r for r in await intake.records("risk-flagged", expect=1) if r.key == client_id.encode()]
    completed = [r for r in await intake.records("intake-completed", expect=1) if r.key == client_id.encode()]
    (risk,), (done,) = flagged, completed
    # Two topics have no common order; the relay publishes a document's outbox in order and
    # sends the next event only once the broker confirmed the one before, so the producer's
    # timestamps cannot run backwards (the unit tests pin the outbox order itself).
    assert risk.timestamp <= done.timestamp
    assert value_of(risk)["reasons"] == answer["risk_reasons"]
    assert value_of(risk)["intake_id"] == intake_id
    assert headers_of(risk)["correlation_id"] == headers_of(done)["correlation_id"] == intake_id


async def test_submitting_twice_returns_the_same_answer_and_publishes_nothing_new(
    intake: RunningIntake,
) -> None:
    client_id = new_id("client")
    intake_id, first = await submitted(intake, client_id)
    again = await intake.http.post(f"/v1/intakes/{intake_id}/submit", headers=as_client(client_id))
    assert again.status_code == 200
    assert again.json() == first
    records = await intake.records("intake-completed", expect=1, settle=1.5)
    assert len([r for r in records if r.key == client_id.encode()]) == 1


async def test_saving_sections_after_submission_is_a_conflict(intake: RunningIntake) -> None:
    client_id = new_id("client")
    intake_id, _ = await submitted(intake, client_id)
    patched = await intake.http.patch(
        f"/v1/intakes/{intake_id}", json={"concerns": ["grief_loss"]}, headers=as_client(client_id)
    )
    assert patched.status_code == 409
    assert patched.headers["content-type"] == "application/problem+json"
    read = await intake.http.get(f"/v1/intakes/{intake_id}", headers=as_client(client_id))
    assert read.json()["concerns"] == ["anxiety", "stress"]


async def test_a_draft_saved_in_parts_reads_back_and_submits(intake: RunningIntake) -> None:
    client_id = new_id("client")
    me = as_client(client_id)
    sections = complete_sections()
    created = await intake.http.post(
        "/v1/intakes", json={"client_id": client_id, "concerns": sections["concerns"]}, headers=me
    )
    assert created.status_code == 201 and created.json()["status"] == "draft"
    intake_id = created.json()["id"]
    for part in (
        ["timezone", "jurisdiction", "languages"],
        ["history", "goals"],
        ["phq9", "gad7", "availability"],
    ):
        saved = await intake.http.patch(
            f"/v1/intakes/{intake_id}", json={k: sections[k] for k in part}, headers=me
        )
        assert saved.status_code == 200, saved.text
    read = await intake.http.get(f"/v1/intakes/{intake_id}", headers=me)
    assert read.json()["history"]["background"] == sections["history"]["background"]
    listed = await intake.http.get(f"/v1/clients/{client_id}/intakes", headers=me)
    assert [i["id"] for i in listed.json()] == [intake_id]
    assert (await intake.http.post(f"/v1/intakes/{intake_id}/submit", headers=me)).status_code == 200


async def test_the_fhir_export_validates_as_an_r4_bundle(intake: RunningIntake) -> None:
    client_id = new_id("client")
    intake_id, _ = await submitted(intake, client_id)
    exported = await intake.http.get(f"/v1/intakes/{intake_id}/fhir", headers=as_client(client_id))
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(exported.json())
    resources = [entry.resource for entry in bundle.entry or []]
    codes = {coding.code for r in resources if isinstance(r, Observation) for coding in r.code.coding or []}
    assert codes == {"44249-1", "44261-6", "69737-5", "70274-6"}
    assert len([r for r in resources if isinstance(r, QuestionnaireResponse)]) == 2
