"""Revision-checked stores: no lease, no lost write, and a second write of a document unread.

On the real server the suite runs on (MongoDB, or the launcher's FerretDB, whose conditional
writes are atomic): replicas are separate `DocumentStore`s of one collection, as separate
processes are, and they meet only at the stored revision.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.events.models import RiskFlagged
from shared.events.registry import spec_for
from shared.runtime import ServiceRuntime
from shared.settings import KafkaSettings, MongoSettings
from shared.storage.documents import REVISION, DocumentStore, Revision
from shared.storage.locks import Locks
from shared.storage.outbox import OUTBOX_PENDING
from tests.integration.shared.test_document_store import flag, increment
from tests.support.kafka import eventually, read_records
from tests.support.round_trips import RoundTrips
from tests.support.runtime import build_runtime


def replica(db: AsyncDatabase[Any], name: str) -> DocumentStore:
    return DocumentStore(db["counters"], Locks(db["locks"]), owner=name, revision_checked=True)


async def test_concurrent_writers_in_three_replicas_keep_every_change_without_a_lease(
    mongo_db: AsyncDatabase[Any],
) -> None:
    replicas = [replica(mongo_db, f"replica-{n}") for n in range(3)]
    await replicas[0].insert({"_id": "c-1", "n": 0})

    await asyncio.gather(*(r.update("c-1", increment) for _ in range(20) for r in replicas))

    assert (await replicas[0].get("c-1")) == {"_id": "c-1", "n": 60}
    assert await mongo_db["locks"].count_documents({}) == 0, "no lease was taken"


async def test_a_second_write_of_a_document_costs_one_round_trip_and_takes_no_lease(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, commands = counted
    store = replica(db, "replica")
    await store.upsert("c-1", lambda current: Revision({"n": 0}))
    commands.seen.clear()

    await store.update("c-1", increment)
    await store.update("c-1", increment)

    assert commands.seen == {("update", "counters"): 2}
    assert (await store.get("c-1")) == {"_id": "c-1", "n": 2}


async def test_a_copy_another_replica_made_stale_is_read_again_and_the_change_applied_to_the_new_state(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, commands = counted
    here, there = replica(db, "here"), replica(db, "there")
    await here.insert({"_id": "c-1", "n": 0})
    await here.update("c-1", increment)  # `here` keeps the document as it wrote it
    await there.update("c-1", increment)
    commands.seen.clear()

    assert (await here.update("c-1", increment)) == {"_id": "c-1", "n": 3}

    assert commands.seen == {("update", "counters"): 2, ("find", "counters"): 1}, "refused, read, written"


async def test_writes_of_several_documents_together_keep_a_change_another_replica_made_to_one_of_them(
    mongo_db: AsyncDatabase[Any],
) -> None:
    here, there = replica(mongo_db, "here"), replica(mongo_db, "there")
    for n in range(3):
        await here.insert({"_id": f"c-{n}", "n": 0})
    await here.update_many([(f"c-{n}", increment) for n in range(3)])
    await there.update("c-1", increment)

    written = await here.update_many([(f"c-{n}", increment) for n in range(3)] + [("absent", increment)])

    assert {k: v and v["n"] for k, v in written.items()} == {"c-0": 2, "c-1": 3, "c-2": 2, "absent": None}
    assert [d["n"] async for d in mongo_db["counters"].find({}, sort=[("_id", 1)])] == [2, 3, 2]


async def test_documents_created_at_once_in_two_replicas_are_created_once_and_both_changes_kept(
    mongo_db: AsyncDatabase[Any],
) -> None:
    def count(current: dict[str, Any] | None) -> Revision:
        return Revision({"n": (current or {}).get("n", 0) + 1})

    stores = [replica(mongo_db, f"replica-{n}") for n in range(2)]
    await asyncio.gather(*(s.upsert("c-1", count) for s in stores for _ in range(5)))

    assert (await stores[0].get("c-1")) == {"_id": "c-1", "n": 10}


async def test_a_document_stored_before_revisions_is_changed_and_given_one(
    mongo_db: AsyncDatabase[Any],
) -> None:
    await mongo_db["counters"].insert_one({"_id": "c-1", "n": 0})  # as a leased write of old left it
    store = replica(mongo_db, "replica")

    await store.update("c-1", increment)

    stored = await mongo_db["counters"].find_one({"_id": "c-1"})
    assert stored is not None and stored["n"] == 1 and stored[REVISION]


async def test_a_delete_removes_the_document_another_replica_changed_meanwhile_and_refuses_unsent_events(
    mongo_db: AsyncDatabase[Any],
) -> None:
    here, there = replica(mongo_db, "here"), replica(mongo_db, "there")
    await here.insert({"_id": "c-1", "n": 0})
    await here.update("c-1", increment)
    await there.update("c-1", increment)

    assert await here.delete("c-1") is True
    assert await here.delete("c-1") is False
    assert await here.get("c-1") is None
    await mongo_db["counters"].insert_one({"_id": "c-2", OUTBOX_PENDING: 1})
    with pytest.raises(ValueError, match="unpublished events"):
        await here.delete("c-2")


async def test_a_revision_checked_store_takes_part_in_no_block_of_leases(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = replica(mongo_db, "replica")
    with pytest.raises(TypeError, match="revision-checked"):
        store.lease_of("c-1")
    with pytest.raises(TypeError, match="revision-checked"):
        async with store.claiming([{"_id": "c-1"}]):
            pass


def checked_clients_runtime(kafka: KafkaSettings, mongo: MongoSettings, database: str) -> ServiceRuntime:
    runtime = build_runtime(kafka, mongo, database, produces=[spec_for(RiskFlagged)])
    runtime.documents("clients", revision_checked=True)
    return runtime


async def test_events_of_writers_in_two_replicas_are_each_published_and_none_left_pending(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    runtimes = [checked_clients_runtime(kafka_settings, mongo_settings, mongo_db.name) for _ in range(2)]
    stores = [runtime.documents("clients") for runtime in runtimes]
    for runtime in runtimes:
        await runtime.start()
    await stores[0].insert({"_id": "client-1", "flags": 0})
    try:
        await asyncio.gather(*(stores[i % 2].update("client-1", flag(i)) for i in range(30)))
        # A duplicate is possible (two replicas may both send an entry still pending): read on.
        records = await read_records(
            kafka_settings, kafka_settings.topic("risk-flagged"), expect=30, settle=1.0
        )

        async def drained() -> bool:
            document = await mongo_db["clients"].find_one({"_id": "client-1"})
            return document is not None and document[OUTBOX_PENDING] == 0

        await eventually(drained)
    finally:
        for runtime in runtimes:
            await runtime.stop()
    document = await mongo_db["clients"].find_one({"_id": "client-1"})
    assert document is not None and document["flags"] == 30
    assert len({dict(r.headers)["ce_id"] for r in records}) == 30
