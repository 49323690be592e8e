"""Narrow roles on intake (issue 19): service scopes, clinicians' on-behalf entries, break-glass.

One intake service for the module, with an on-call rota, on the real broker and database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from services.intake.app import build_app
from shared.http.auth import Role, mint_token
from shared.http.scopes import INTAKE_READ, INTAKE_WRITE
from tests.integration.intake.service import (
    AUTH,
    RunningIntake,
    as_client,
    bearer,
    chosen,
    due,
    intake_settings,
    new_id,
    pending_check_in,
    value_of,
)
from tests.support.infrastructure import Infrastructure
from tests.support.isolation import isolated_place
from tests.support.kafka import publish_events
from tests.unit.intake.samples import HIGH_RISK, complete_sections

ON_CALL = "t-on-call"
BY_PHONE = {"reason": "client has no internet access this week", "method": "phone"}


@pytest.fixture(scope="module")
async def intake(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[RunningIntake]:
    async with isolated_place(infrastructure, mongo_client, "intake") as place:
        settings = intake_settings(place.kafka, place.mongo, place.database).model_copy(
            update={"on_call_rota": [ON_CALL]}
        )
        app = build_app(settings)
        async with app.state.runtime:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
                yield RunningIntake(app=app, http=http, settings=settings)


def service(*scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(AUTH, subject='web', role=Role.service, scopes=scopes)}"}


async def audit_of(
    intake: RunningIntake, mongo: AsyncMongoClient[Any], client_id: str
) -> list[dict[str, Any]]:
    return await mongo[intake.settings.database_name]["audit"].find({"client_id": client_id}).to_list()


async def submitted(intake: RunningIntake, client_id: str, **overrides: Any) -> str:
    me = as_client(client_id)
    body = {"client_id": client_id, **complete_sections(**overrides)}
    created = await intake.http.post("/v1/intakes", json=body, headers=me)
    intake_id = str(created.json()["id"])
    assert (await intake.http.post(f"/v1/intakes/{intake_id}/submit", headers=me)).status_code == 200
    return intake_id


# ---------------------------------------------------------------------- service scopes


async def test_a_service_reads_and_writes_intakes_only_with_the_scopes_for_them(
    intake: RunningIntake,
) -> None:
    client_id = new_id("client")
    body = {"client_id": client_id, **complete_sections()}
    unscoped = await intake.http.get(f"/v1/clients/{client_id}/intakes", headers=service())
    assert unscoped.status_code == 403 and "intake:read" in unscoped.json()["detail"]
    assert unscoped.headers["content-type"] == "application/problem+json"
    reader = service(INTAKE_READ)
    refused = await intake.http.post("/v1/intakes", json=body, headers=reader)
    assert refused.status_code == 403 and "intake:write" in refused.json()["detail"]

    created = await intake.http.post("/v1/intakes", json=body, headers=service(INTAKE_WRITE))
    assert created.status_code == 201, created.text
    listed = await intake.http.get(f"/v1/clients/{client_id}/intakes", headers=reader)
    assert listed.status_code == 200 and [i["id"] for i in listed.json()] == [created.json()["id"]]


# ---------------------------------------------------------------------- on behalf of


async def test_a_clinician_enters_an_intake_only_on_behalf_marked_in_record_event_and_audit(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any]
) -> None:
    client_id, therapist = new_id("client"), new_id("t")
    await chosen(intake, client_id, therapist)
    clinician = bearer(therapist, Role.clinician)
    body = {"client_id": client_id, **complete_sections()}

    refused = await intake.http.post("/v1/intakes", json=body, headers=clinician)
    assert refused.status_code == 403 and refused.json()["code"] == "on_behalf_of_required"
    bad = await intake.http.post(
        "/v1/intakes", json={**body, "on_behalf_of": {"method": "fax"}}, headers=clinician
    )
    assert bad.status_code == 422 and any("on_behalf_of" in str(e) for e in bad.json()["errors"])

    created = await intake.http.post(
        "/v1/intakes", json={**body, "on_behalf_of": BY_PHONE}, headers=clinician
    )
    assert created.status_code == 201, created.text
    intake_id = created.json()["id"]
    (entry,) = created.json()["entered_on_behalf"]
    assert (entry["by"], entry["method"], entry["action"], entry["reason"]) == (
        therapist,
        "phone",
        "create",
        BY_PHONE["reason"],
    )
    no_behalf = await intake.http.post(f"/v1/intakes/{intake_id}/submit", headers=clinician)
    assert no_behalf.status_code == 403
    done = await intake.http.post(
        f"/v1/intakes/{intake_id}/submit", json={"on_behalf_of": BY_PHONE}, headers=clinician
    )
    assert done.status_code == 200, done.text

    read = (await intake.http.get(f"/v1/intakes/{intake_id}", headers=as_client(client_id))).json()
    assert [e["action"] for e in read["entered_on_behalf"]] == ["create", "submit"]
    records = await intake.records("intake-completed", expect=1, settle=0.5)
    (event,) = [value_of(r) for r in records if r.key == client_id.encode()]
    assert event["entered_on_behalf_by"] == therapist
    trail = await audit_of(intake, mongo_client, client_id)
    assert {(e["action"], e["basis"]) for e in trail} >= {
        ("create", "on_behalf_of"),
        ("submit", "on_behalf_of"),
    }
    stored = await mongo_client[intake.settings.database_name]["intakes"].find_one({"_id": intake_id})
    assert stored is not None and BY_PHONE["reason"] not in str(stored)  # sealed at rest


async def test_a_clinician_answers_a_check_in_only_on_behalf_marked_in_check_in_and_event(
    intake: RunningIntake,
) -> None:
    client_id, therapist = new_id("client"), new_id("t")
    intake_id = await submitted(intake, client_id)
    await chosen(intake, client_id, therapist)
    check_in_id = "ci-" + client_id
    await publish_events(intake.kafka, due(client_id, therapist, check_in_id, intake_id))
    await pending_check_in(intake, client_id, check_in_id)
    clinician = bearer(therapist, Role.clinician)
    answers = {"phq9": [1] * 8 + [0], "gad7": [1] * 7}
    path = f"/v1/check-ins/{check_in_id}/responses"

    refused = await intake.http.post(path, json=answers, headers=clinician)
    assert refused.status_code == 403 and refused.json()["code"] == "on_behalf_of_required"
    answered = await intake.http.post(path, json={**answers, "on_behalf_of": BY_PHONE}, headers=clinician)
    assert answered.status_code == 200, answered.text
    entry = answered.json()["entered_on_behalf"]
    assert (entry["by"], entry["action"], entry["reason"]) == (therapist, "answer", BY_PHONE["reason"])
    records = await intake.records("check-in-completed", expect=1, settle=0.5)
    (event,) = [value_of(r) for r in records if r.key == client_id.encode()]
    assert event["entered_on_behalf_by"] == therapist


async def test_a_client_s_own_intake_completes_with_nobody_entering_it_on_behalf(
    intake: RunningIntake,
) -> None:
    client_id = new_id("client")
    await submitted(intake, client_id)
    records = await intake.records("intake-completed", expect=1, settle=0.5)
    (event,) = [value_of(r) for r in records if r.key == client_id.encode()]
    assert event["entered_on_behalf_by"] is None


async def test_a_clinician_the_client_did_not_choose_gets_404_even_on_behalf(intake: RunningIntake) -> None:
    client_id = new_id("client")
    intake_id = (
        await intake.http.post("/v1/intakes", json={"client_id": client_id}, headers=as_client(client_id))
    ).json()["id"]
    stranger = bearer(new_id("t"), Role.clinician)
    body = {"client_id": client_id, "on_behalf_of": BY_PHONE}
    assert (await intake.http.post("/v1/intakes", json=body, headers=stranger)).status_code == 404
    patched = await intake.http.patch(
        f"/v1/intakes/{intake_id}", json={"on_behalf_of": BY_PHONE, "concerns": ["anxiety"]}, headers=stranger
    )
    assert patched.status_code == 404


async def test_only_a_clinician_sends_on_behalf_of(intake: RunningIntake) -> None:
    client_id = new_id("client")
    body = {"client_id": client_id, "on_behalf_of": BY_PHONE}
    answer = await intake.http.post("/v1/intakes", json=body, headers=as_client(client_id))
    assert answer.status_code == 422 and "on_behalf_of" in answer.text


# ---------------------------------------------------------------------- break-glass


REASON = {"reason": "paged for a high risk screen; client not answering"}


async def test_the_on_call_clinician_breaks_the_glass_after_a_risk_flag_and_reads_only(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any]
) -> None:
    client_id = new_id("client")
    intake_id = await submitted(intake, client_id, **HIGH_RISK)
    on_call = bearer(ON_CALL, Role.clinician)
    before = await intake.http.get(f"/v1/intakes/{intake_id}", headers=on_call)
    assert before.status_code == 404

    granted = await intake.http.post(f"/v1/clients/{client_id}/break-glass", json=REASON, headers=on_call)
    assert granted.status_code == 201, granted.text
    assert granted.json()["therapist_id"] == ON_CALL
    read = await intake.http.get(f"/v1/intakes/{intake_id}", headers=on_call)
    assert read.status_code == 200 and read.json()["client_id"] == client_id
    listed = await intake.http.get(f"/v1/clients/{client_id}/intakes", headers=on_call)
    assert listed.status_code == 200
    write = await intake.http.post(
        "/v1/intakes", json={"client_id": client_id, "on_behalf_of": BY_PHONE}, headers=on_call
    )
    assert write.status_code == 404  # read-only

    trail = await audit_of(intake, mongo_client, client_id)
    assert ("grant:risk_alert_page", "break_glass") in {(e["action"], e["basis"]) for e in trail}
    assert ("read", "break_glass") in {(e["action"], e["basis"]) for e in trail}
    record = await mongo_client[intake.settings.database_name]["clients"].find_one({"_id": client_id})
    assert record is not None and REASON["reason"] not in str(record)  # sealed at rest

    with later(intake, hours=4):
        assert (await intake.http.get(f"/v1/intakes/{intake_id}", headers=on_call)).status_code == 404


@contextmanager
def later(intake: RunningIntake, *, hours: float) -> Iterator[None]:
    """The service's domain clock `hours` ahead, for its routes."""
    ctx = intake.app.state.context
    intake.app.state.context = replace(ctx, clock=lambda: ctx.clock() + timedelta(hours=hours))
    try:
        yield
    finally:
        intake.app.state.context = ctx


async def test_break_glass_needs_a_reason_the_rota_and_a_recent_risk_flag(intake: RunningIntake) -> None:
    flagged, calm = new_id("client"), new_id("client")
    await submitted(intake, flagged, **HIGH_RISK)
    await submitted(intake, calm)
    on_call = bearer(ON_CALL, Role.clinician)

    missing = await intake.http.post(f"/v1/clients/{flagged}/break-glass", json={}, headers=on_call)
    assert missing.status_code == 422 and "reason" in missing.text
    not_on_rota = bearer(new_id("t"), Role.clinician)
    assert (
        await intake.http.post(f"/v1/clients/{flagged}/break-glass", json=REASON, headers=not_on_rota)
    ).status_code == 404
    assert (
        await intake.http.post(f"/v1/clients/{calm}/break-glass", json=REASON, headers=on_call)
    ).status_code == 404
    with later(intake, hours=24 * 4):  # the flag is no longer recent
        assert (
            await intake.http.post(f"/v1/clients/{flagged}/break-glass", json=REASON, headers=on_call)
        ).status_code == 404
    admin = bearer("ops", Role.admin)
    assert (
        await intake.http.post(f"/v1/clients/{flagged}/break-glass", json=REASON, headers=admin)
    ).status_code == 403
