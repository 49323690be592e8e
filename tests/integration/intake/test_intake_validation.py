"""Bad input gets a 4xx problem+json naming the field, and nothing is stored half-written."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from tests.integration.intake.service import RunningIntake, as_client, new_id
from tests.unit.intake.samples import complete_sections

PROBLEM_JSON = "application/problem+json"


def fields_of(problem: dict[str, Any]) -> set[str]:
    return {error["field"] for error in problem.get("errors", [])}


async def stored_for(intake: RunningIntake, mongo: AsyncMongoClient[Any], client_id: str) -> int:
    database = mongo[intake.settings.database_name]
    return await database["intakes"].count_documents({"client_id": client_id}) + await database[
        "clients"
    ].count_documents({"_id": client_id})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phq9": [0, 1, 2, 3, 4, 0, 0, 0, 0]}, "body.phq9.4"),
        ({"gad7": [0, 0, 0, -1, 0, 0, 0]}, "body.gad7.3"),
        ({"phq9": [0, 1, 2, 3, 0, 0, 0, 0]}, "body.phq9"),
        ({"gad7": [0] * 8}, "body.gad7"),
        ({"concerns": ["anxiety", "boredom"]}, "body.concerns.1"),
        ({"timezone": "Mars/Olympus_Mons"}, "body.timezone"),
        ({"timezone": "America"}, "body.timezone"),
        ({"availability": [{"day": "tuesday", "start": "17:00", "end": "09:00"}]}, "body.availability.0"),
        ({"email": "jane@example.com"}, "body.email"),
    ],
)
async def test_a_bad_field_in_a_new_intake_is_named_and_nothing_is_stored(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any], change: dict[str, Any], field: str
) -> None:
    client_id = new_id("client")
    body = {"client_id": client_id, **complete_sections(**change)}
    refused = await intake.http.post("/v1/intakes", json=body, headers=as_client(client_id))
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM_JSON
    assert field in fields_of(refused.json())
    assert await stored_for(intake, mongo_client, client_id) == 0


async def test_every_bad_field_is_named_in_one_answer_without_echoing_values(intake: RunningIntake) -> None:
    client_id = new_id("client")
    body = {"client_id": client_id, "phq9": [7] * 9, "timezone": "Secret/Zone", "concerns": ["boredom"]}
    refused = await intake.http.post("/v1/intakes", json=body, headers=as_client(client_id))
    assert refused.status_code == 422
    assert {"body.phq9.0", "body.phq9.8", "body.timezone", "body.concerns.0"} <= fields_of(refused.json())
    assert "Secret/Zone" not in refused.text


async def test_a_bad_patch_leaves_the_draft_as_it_was(intake: RunningIntake) -> None:
    client_id = new_id("client")
    me = as_client(client_id)
    created = await intake.http.post(
        "/v1/intakes", json={"client_id": client_id, **complete_sections()}, headers=me
    )
    intake_id = created.json()["id"]
    refused = await intake.http.patch(
        f"/v1/intakes/{intake_id}", json={"concerns": ["grief_loss"], "gad7": [1] * 6}, headers=me
    )
    assert refused.status_code == 422 and fields_of(refused.json()) == {"body.gad7"}
    read = await intake.http.get(f"/v1/intakes/{intake_id}", headers=me)
    assert read.json()["concerns"] == ["anxiety", "stress"]
    assert read.json()["updated_at"] == created.json()["updated_at"]


async def test_submission_without_the_screener_when_item9_is_positive_names_it_and_publishes_nothing(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any]
) -> None:
    client_id = new_id("client")
    me = as_client(client_id)
    body = {"client_id": client_id, **complete_sections(phq9=[0] * 8 + [2]), "timezone": None}
    created = await intake.http.post("/v1/intakes", json=body, headers=me)
    intake_id = created.json()["id"]
    refused = await intake.http.post(f"/v1/intakes/{intake_id}/submit", headers=me)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM_JSON
    assert fields_of(refused.json()) == {"cssrs", "timezone"}
    read = await intake.http.get(f"/v1/intakes/{intake_id}", headers=me)
    assert read.json()["status"] == "draft"
    raw = await mongo_client[intake.settings.database_name]["intakes"].find_one({"_id": intake_id})
    assert raw is not None and raw["_outbox"] == {}  # no event was ever queued


async def test_an_oversized_body_is_refused_before_it_is_read(intake: RunningIntake) -> None:
    client_id = new_id("client")
    huge = json.dumps({"client_id": client_id, "history": {"background": "x" * 2_000_000}})
    refused = await intake.http.post(
        "/v1/intakes", content=huge, headers={**as_client(client_id), "content-type": "application/json"}
    )
    assert refused.status_code == 413
    assert refused.headers["content-type"] == PROBLEM_JSON


async def test_a_malformed_json_body_is_a_problem_naming_the_body(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any]
) -> None:
    client_id = new_id("client")
    refused = await intake.http.post(
        "/v1/intakes",
        content=b'{"client_id": "' + client_id.encode() + b'", "phq9": [1, 2,',
        headers={**as_client(client_id), "content-type": "application/json"},
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM_JSON
    assert all(field.startswith("body") for field in fields_of(refused.json()))
    assert await stored_for(intake, mongo_client, client_id) == 0


async def test_an_id_that_could_never_exist_is_refused_at_once(intake: RunningIntake) -> None:
    refused = await intake.http.get("/v1/intakes/not%20an%20id", headers=as_client("client-x"))
    assert refused.status_code == 422
    assert fields_of(refused.json()) == {"path.intake_id"}
