"""Per-client data keys, export and erasure (crypto-shredding) on the real database."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from deploy.data_rights import erase_client, export_client
from shared.http.auth import Role, mint_token
from shared.security.client_keys import ClientKeys
from shared.security.field_encryption import is_data_key_id
from tests.integration.intake.service import ADMIN, AUTH, RunningIntake, as_client, bearer, new_id
from tests.unit.intake.samples import complete_sections

BACKGROUND = "Grew up above the bakery on Vell Street."
GOAL = "Sleep through the night again."


async def _submitted_intake(intake: RunningIntake, client_id: str) -> str:
    sections = complete_sections(
        history={"prior_therapy": False, "medications": [], "background": BACKGROUND},
        goals=[{"code": "sleep", "kind": "specific_issue", "description": GOAL}],
    )
    created = await intake.http.post(
        "/v1/intakes", json={"client_id": client_id, **sections}, headers=as_client(client_id)
    )
    assert created.status_code == 201, created.text
    intake_id = str(created.json()["id"])
    submitted = await intake.http.post(f"/v1/intakes/{intake_id}/submit", headers=as_client(client_id))
    assert submitted.status_code == 200, submitted.text
    return intake_id


async def test_two_replicas_making_a_clients_first_key_at_once_end_with_one_key(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any]
) -> None:
    runtime = intake.app.state.runtime
    store = runtime.documents("client_keys")
    replicas = [ClientKeys(store, lambda: runtime.cipher) for _ in range(2)]
    client_id = new_id("client")

    ciphers = await asyncio.gather(*(replicas[n % 2].cipher_for(client_id) for n in range(8)))

    sealed = [cipher.encrypt("same key", context="test/field") for cipher in ciphers]
    kids = {value["kid"] for value in sealed}
    assert len(kids) == 1 and is_data_key_id(kids.pop())  # one key, the client's
    assert {ciphers[0].decrypt(value, context="test/field") for value in sealed} == {"same key"}
    keys = mongo_client[intake.settings.database_name]["client_keys"]
    assert await keys.count_documents({"_id": client_id}) == 1


async def test_erasure_shreds_one_clients_free_text_while_anothers_still_reads(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any]
) -> None:
    erased, kept = new_id("client"), new_id("client")
    erased_intake, kept_intake = (
        await _submitted_intake(intake, erased),
        await _submitted_intake(intake, kept),
    )
    raw = await mongo_client[intake.settings.database_name]["intakes"].find_one({"_id": erased_intake})
    assert raw is not None and is_data_key_id(raw["sections"]["history"]["sealed"]["kid"])

    erasure = await intake.http.post(
        f"/v1/admin/clients/{erased}/erasure", json={"reason": "GDPR Art. 17, ticket DPO-1"}, headers=ADMIN
    )

    assert erasure.status_code == 200, erasure.text
    report = erasure.json()
    assert report["shredded"] == {"client_key": True}
    assert erased_intake in report["retained"]["intakes"]["ids"]
    assert {"basis", "until", "ids"} <= set(report["retained"]["audit"])
    assert erased in report["retained"]["erasures"]["ids"]
    read = await intake.http.get(f"/v1/intakes/{erased_intake}", headers=as_client(erased))
    assert read.status_code == 200, read.text
    assert read.json()["history"] is None and read.json()["goals"][0]["description"] is None
    exported = await intake.http.get(f"/v1/admin/clients/{erased}/export", headers=ADMIN)
    assert exported.status_code == 200 and BACKGROUND not in exported.text and GOAL not in exported.text
    assert exported.json()["records"]["intakes"][0]["retained"]["basis"]
    other = (await intake.http.get(f"/v1/intakes/{kept_intake}", headers=as_client(kept))).json()
    assert (other["history"]["background"], other["goals"][0]["description"]) == (BACKGROUND, GOAL)

    # The client comes back: their new key never opens what was erased, which still reads as erased.
    returned = await intake.http.post("/v1/intakes", json={"client_id": erased}, headers=as_client(erased))
    assert returned.status_code == 201, returned.text
    again = await intake.http.get(f"/v1/intakes/{erased_intake}", headers=as_client(erased))
    assert again.status_code == 200, again.text
    assert again.json()["history"] is None and again.json()["goals"][0]["description"] is None


async def test_export_gives_an_admin_everything_decrypted_and_nobody_else_anything(
    intake: RunningIntake,
) -> None:
    client_id = new_id("client")
    intake_id = await _submitted_intake(intake, client_id)
    path = f"/v1/admin/clients/{client_id}/export"

    exported = await intake.http.get(path, headers=ADMIN)

    assert exported.status_code == 200, exported.text
    body = exported.json()
    assert (body["service"], body["client_id"]) == ("intake", client_id)
    [stored] = body["records"]["intakes"]
    assert stored["_id"] == intake_id and stored["sections"]["history"]["background"] == BACKGROUND
    assert body["records"]["clients"][0]["_id"] == client_id
    for who in (as_client(client_id), bearer("therapist-x", Role.clinician), bearer("web", Role.service)):
        assert (await intake.http.get(path, headers=who)).status_code == 403
        erase = f"/v1/admin/clients/{client_id}/erasure"
        assert (await intake.http.post(erase, json={"reason": "because"}, headers=who)).status_code == 403
    nobody = await intake.http.get(f"/v1/admin/clients/{new_id('client')}/export", headers=ADMIN)
    assert nobody.status_code == 404 and nobody.headers["content-type"].startswith("application/problem+json")


async def test_erasure_without_a_reason_is_refused_naming_the_field(intake: RunningIntake) -> None:
    refused = await intake.http.post(f"/v1/admin/clients/{new_id('client')}/erasure", json={}, headers=ADMIN)

    assert refused.status_code == 422
    assert "reason" in refused.text


async def test_the_gather_command_exports_and_erases_across_services(intake: RunningIntake) -> None:
    client_id = new_id("client")
    await _submitted_intake(intake, client_id)
    token = mint_token(AUTH, subject="data-rights-cli", role=Role.admin)
    nothing = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(404)), base_url="http://x"
    )
    clients = {"intake": intake.http, "matching": nothing}

    exported = await export_client(clients, client_id, token)
    erased = await erase_client({"intake": intake.http}, client_id, "ticket DPO-2", token)

    assert exported["services"]["matching"] is None
    assert (
        exported["services"]["intake"]["records"]["intakes"][0]["sections"]["history"]["background"]
        == BACKGROUND
    )
    assert erased["services"]["intake"]["shredded"] == {"client_key": True}
    await nothing.aclose()
