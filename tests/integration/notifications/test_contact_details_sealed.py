"""Contact details are sealed at rest, a client's with their own key; erasure shreds and deletes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient

from shared.http.auth import Role
from tests.integration.notifications.service import ADMIN, RunningNotifications, bearer, new_id

EMAIL, PHONE, PUSH = "ines.vale@example.org", "+15557654321", "push-token-ines-0001"


async def _register(notifications: RunningNotifications, recipient_id: str, role: str) -> None:
    details = {"role": role, "email": EMAIL, "phone": PHONE, "push_token": PUSH}
    who = bearer(recipient_id, Role.client) if role == "client" else ADMIN
    registered = await notifications.http.put(f"/v1/recipients/{recipient_id}", json=details, headers=who)
    assert registered.status_code == 200, registered.text


async def test_contact_details_are_not_stored_in_plain_text_and_read_back_in_the_clear(
    notifications: RunningNotifications, mongo_client: AsyncMongoClient[Any]
) -> None:
    client_id, therapist_id = new_id("client"), new_id("therapist")
    await _register(notifications, client_id, "client")
    await _register(notifications, therapist_id, "therapist")

    recipients = mongo_client[notifications.settings.database_name]["recipients"]
    for recipient_id, kid in ((client_id, "client:"), (therapist_id, "k1")):
        raw = await recipients.find_one({"_id": recipient_id})
        assert raw is not None
        assert not [value for value in (EMAIL, PHONE, PUSH) if value in json.dumps(raw, default=str)]
        assert all(raw[name]["kid"].startswith(kid) for name in ("email", "phone", "push_token"))
        read = await notifications.http.get(f"/v1/recipients/{recipient_id}", headers=ADMIN)
        assert (read.json()["email"], read.json()["phone"], read.json()["push_token"]) == (EMAIL, PHONE, PUSH)


async def test_a_recipient_stored_in_plain_text_before_still_reads_and_is_sealed_on_its_next_write(
    notifications: RunningNotifications, mongo_client: AsyncMongoClient[Any]
) -> None:
    client_id = new_id("client")
    recipients = mongo_client[notifications.settings.database_name]["recipients"]
    now = datetime.now(UTC)
    await recipients.insert_one(
        {
            "_id": client_id,
            "role": "client",
            "email": EMAIL,
            "preferences": {},
            "created_at": now,
            "updated_at": now,
        }
    )

    read = await notifications.http.get(f"/v1/recipients/{client_id}", headers=ADMIN)
    quiet = {"quiet_hours": {"start": "22:00", "end": "07:00"}}
    written = await notifications.http.put(
        f"/v1/recipients/{client_id}/preferences", json=quiet, headers=bearer(client_id, Role.client)
    )

    assert read.json()["email"] == EMAIL
    assert written.status_code == 200, written.text
    raw = await recipients.find_one({"_id": client_id})
    assert raw is not None and raw["email"]["kid"].startswith("client:")
    assert (await notifications.http.get(f"/v1/recipients/{client_id}", headers=ADMIN)).json()[
        "email"
    ] == EMAIL


async def test_erasure_deletes_the_clients_contact_details_and_export_then_shows_none(
    notifications: RunningNotifications,
) -> None:
    client_id = new_id("client")
    await _register(notifications, client_id, "client")
    path = f"/v1/admin/clients/{client_id}"

    before = await notifications.http.get(f"{path}/export", headers=ADMIN)
    refused = await notifications.http.get(f"{path}/export", headers=bearer(client_id, Role.client))
    erased = await notifications.http.post(f"{path}/erasure", json={"reason": "ticket DPO-3"}, headers=ADMIN)
    after = await notifications.http.get(f"{path}/export", headers=ADMIN)

    assert before.status_code == 200 and before.json()["records"]["recipients"][0]["email"] == EMAIL
    assert refused.status_code == 403
    assert erased.status_code == 200, erased.text
    assert erased.json()["shredded"] == {"client_key": True}
    assert erased.json()["deleted"]["recipients"] == [client_id]
    assert after.status_code == 200 and EMAIL not in after.text and PHONE not in after.text
    assert after.json()["records"]["recipients"] == []
