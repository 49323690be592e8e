"""In-app entries kept by their deliveries, on the real service: legacy entries still shown, erasure.

An in-app entry lives in its delivery (`inbox_entry`), written by the record of its outcome.
Entries written before (`inbox_entries`, listed by the delivery log or by the legacy
`inboxes` index) are still listed and marked read; erasure removes both kinds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.notifications.store.indexes import log_id, month_of
from tests.integration.notifications.service import ADMIN, RunningNotifications, new_id
from tests.unit.notifications import samples


def database(n: RunningNotifications, mongo_client: AsyncMongoClient[Any]) -> AsyncDatabase[Any]:
    return mongo_client[n.settings.database_name]


async def inbox(n: RunningNotifications, recipient_id: str) -> dict[str, Any]:
    answer = await n.http.get(f"/v1/recipients/{recipient_id}/notifications", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    page: dict[str, Any] = answer.json()
    return page


async def mark_read(n: RunningNotifications, recipient_id: str, entry_id: str) -> dict[str, Any]:
    answer = await n.http.post(f"/v1/recipients/{recipient_id}/notifications/{entry_id}/read", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    item: dict[str, Any] = answer.json()
    return item


def legacy_entry(entry_id: str, recipient_id: str, title: str, created_at: datetime) -> dict[str, Any]:
    """An entry as an in-app send inserted it before its delivery kept it."""
    return {
        "_id": entry_id,
        "recipient_id": recipient_id,
        "notification_id": entry_id,
        "kind": "check_in_due",
        "critical": False,
        "title": title,
        "body": "b",
        "locale": "en",
        "created_at": created_at,
    }


def delivered_without_entry(delivery_id: str, recipient_id: str, at: datetime) -> dict[str, Any]:
    """An in-app delivery as recorded before it kept its entry."""
    event_id = delivery_id.split(":")[0]
    return {
        "_id": delivery_id,
        "event_id": event_id,
        "event_type": "carepath.check-in-due.v1",
        "correlation_id": event_id,
        "recipient_id": recipient_id,
        "audience": "client",
        "kind": "check_in_due",
        "channel": "in_app",
        "critical": False,
        "context": {},
        "page": None,
        "status": "delivered",
        "attempts": 1,
        "created_at": at,
        "not_before": at,
        "next_attempt_at": None,
        "expires_at": None,
        "delivered_at": at,
        "failed_at": None,
        "reason": None,
    }


async def test_entries_written_before_deliveries_kept_them_are_still_listed_and_marked_read(
    notifications: RunningNotifications, mongo_client: AsyncMongoClient[Any]
) -> None:
    n, db = notifications, database(notifications, mongo_client)
    client = new_id("client")
    await n.register(client, timezone="UTC")  # the in-app inbox only
    earlier = datetime.now(UTC) - timedelta(days=2)
    logged, indexed = f"old:{client}:in_app", f"older:{client}:in_app"
    # Listed by the delivery log, delivered without an entry of its own; before that, by `inboxes`.
    await db["delivery_logs"].insert_one(
        {"_id": client, "deliveries": [logged], "in_app": [logged], "unread": [logged], "held": []}
    )
    await db["deliveries"].insert_one(delivered_without_entry(logged, client, earlier + timedelta(days=1)))
    await db["inboxes"].insert_one({"_id": client, "entries": [indexed], "unread": [indexed]})
    await db["inbox_entries"].insert_many(
        [
            legacy_entry(logged, client, "logged before", earlier + timedelta(days=1)),
            legacy_entry(indexed, client, "indexed before", earlier),
        ]
    )

    await n.publish(samples.check_in_due(client))

    async def sent() -> bool:
        total: int = (await inbox(n, client))["total"]
        return total == 3

    await n.until_async(sent)
    listed = await inbox(n, client)
    new = listed["items"][0]["id"]
    assert [i["id"] for i in listed["items"]] == [new, logged, indexed]
    assert [i["title"] for i in listed["items"]][1:] == ["logged before", "indexed before"]
    assert (listed["total"], listed["unread"]) == (3, 3)
    assert new.endswith(f":{client}:in_app") and await db["inbox_entries"].count_documents({"_id": new}) == 0
    assert (await mark_read(n, client, logged))["read"] is True
    assert (await mark_read(n, client, indexed))["read"] is True
    listed = await inbox(n, client)
    assert [(i["id"], i["read"]) for i in listed["items"]] == [
        (new, False),
        (logged, True),
        (indexed, True),
    ]
    assert (listed["total"], listed["unread"]) == (3, 1)


async def test_erasure_removes_the_clients_in_app_messages_and_keeps_their_deliveries_without_them(
    notifications: RunningNotifications, mongo_client: AsyncMongoClient[Any]
) -> None:
    n, db = notifications, database(notifications, mongo_client)
    client = new_id("client")
    await n.register(client, timezone="UTC")
    legacy = f"old:{client}:in_app"
    await db["inbox_entries"].insert_one(legacy_entry(legacy, client, "sent before", datetime.now(UTC)))
    await n.publish(samples.check_in_due(client))
    delivered = await n.recorded_delivery(client, "in_app", "delivered")
    assert (await inbox(n, client))["total"] == 1
    stored = await db["deliveries"].find_one({"_id": delivered["id"]})
    assert stored is not None and stored["inbox_entry"]["title"]

    erased = await n.http.post(
        f"/v1/admin/clients/{client}/erasure", json={"reason": "ticket DPO-18"}, headers=ADMIN
    )

    assert erased.status_code == 200, erased.text
    assert erased.json()["deleted"]["inbox_entries"] == [legacy]
    assert delivered["id"] in erased.json()["retained"]["deliveries"]["ids"]
    # Their delivery log (the inbox), kept among their deliveries, is deleted, not kept with them.
    log = log_id(client, month_of(stored["created_at"]))
    assert erased.json()["deleted"]["deliveries"] == [log]
    assert await db["deliveries"].count_documents({"_id": log}) == 0
    stored = await db["deliveries"].find_one({"_id": delivered["id"]})
    assert stored is not None and "inbox_entry" not in stored and stored["status"] == "delivered"
    assert await db["inbox_entries"].count_documents({"recipient_id": client}) == 0
    assert (await inbox(n, client))["items"] == []
    answer = await n.http.post(f"/v1/recipients/{client}/notifications/{delivered['id']}/read", headers=ADMIN)
    assert answer.status_code == 404, answer.text
