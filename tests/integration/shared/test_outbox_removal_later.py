"""Revision-checked stores remove their sent outbox entries later, together (outbox.py, "Removal later").

On the real broker and server: each replica is a `ServiceRuntime` of its own (its own relay and
instance name), as separate processes are. What must hold: an event is published at once and
once, in the order of the writes, even when another replica writes the document before the
removal; the entries do go, in one write for many documents, or in the next write here at no
cost; and neither a delete nor a stop leaves them behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.events.envelope import new_event
from shared.events.models import RiskFlagged
from shared.events.registry import spec_for
from shared.runtime import ServiceRuntime
from shared.settings import KafkaSettings, MongoSettings
from shared.storage.documents import REVISION, DocumentStore, Revision
from shared.storage.locks import Locks
from shared.storage.outbox import OUTBOX, OUTBOX_PENDING, new_revision
from tests.bench.profiling import MongoCommands
from tests.integration.shared.test_outbox_relay import risk_flagged
from tests.support.kafka import eventually, read_records
from tests.support.runtime import build_runtime

DELAY = 1.5
"""Long enough to look at the entries before they go, short enough for a test."""


def flagged(document_id: str) -> Any:
    return new_event(risk_flagged(document_id, client_id=document_id), source="intake")


def checked_runtime(kafka: KafkaSettings, mongo: MongoSettings, database: str) -> ServiceRuntime:
    runtime = build_runtime(
        kafka, mongo, database, produces=[spec_for(RiskFlagged)], relay_removal_delay_seconds=DELAY
    )
    runtime.documents("clients", revision_checked=True)
    runtime.documents("leased")  # a store whose writes take the document's lease
    return runtime


@pytest.fixture
async def replicas(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> AsyncIterator[list[ServiceRuntime]]:
    commands = MongoCommands.install()  # before the runtimes' clients exist
    assert commands is not None
    runtimes = [checked_runtime(kafka_settings, mongo_settings, mongo_db.name) for _ in range(2)]
    for runtime in runtimes:
        await runtime.start()
    try:
        yield runtimes
    finally:
        for runtime in runtimes:
            await runtime.stop()


async def pending(db: AsyncDatabase[Any], document_id: str, collection: str = "clients") -> int:
    document = await db[collection].find_one({"_id": document_id})
    assert document is not None
    return int(document[OUTBOX_PENDING])


async def ce_ids(kafka: KafkaSettings, expect: int) -> list[str]:
    records = await read_records(kafka, kafka.topic("risk-flagged"), expect=expect, settle=1.0)
    return [dict(r.headers)["ce_id"].decode() for r in records]


async def test_writes_publish_at_once_and_their_sent_entries_go_later_in_one_write_for_all(
    replicas: list[ServiceRuntime], kafka_settings: KafkaSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    store = replicas[0].documents("clients")
    events = {f"c-{n}": flagged(f"c-{n}") for n in range(3)}

    with MongoCommands.install().recording() as commands:
        await asyncio.gather(*(store.insert({"_id": i, "n": 0}, [e]) for i, e in events.items()))
        still_there = [await pending(mongo_db, i) for i in events]
        published = await ce_ids(kafka_settings, expect=3)

        async def removed() -> bool:
            return all([await pending(mongo_db, i) == 0 for i in events])

        await eventually(removed, timeout=10)

    assert sorted(published) == sorted(e.envelope.id for e in events.values())
    assert still_there == [1, 1, 1], "published before the removal"
    assert commands.counts()["update clients"] == 1, "the three removals in one write"


async def test_the_next_write_here_drops_the_sent_entries_and_no_removal_follows(
    replicas: list[ServiceRuntime], kafka_settings: KafkaSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    store = replicas[0].documents("clients")
    await store.insert({"_id": "c-1", "n": 0}, [flagged("c-1")])
    await ce_ids(kafka_settings, expect=1)

    with MongoCommands.install().recording() as commands:
        await store.update("c-1", lambda current: Revision({**current, "n": 1}))
        stored = await mongo_db["clients"].find_one({"_id": "c-1"})
        await asyncio.sleep(DELAY + 1.0)  # past the removal's time

    assert stored is not None and stored[OUTBOX] == {} and stored[OUTBOX_PENDING] == 0
    assert commands.counts()["update clients"] == 1, "the write alone: nothing left to remove"


@pytest.mark.parametrize("collection", ["clients", "leased"])
async def test_another_replica_writing_before_the_removal_publishes_each_event_once_in_order(
    replicas: list[ServiceRuntime],
    kafka_settings: KafkaSettings,
    mongo_db: AsyncDatabase[Any],
    collection: str,
) -> None:
    here, there = (runtime.documents(collection) for runtime in replicas)
    first, second = flagged("c-1"), flagged("c-1")
    await here.insert({"_id": "c-1", "n": 0}, [first])

    # `there` reads the document with `first` still in it (sent, its removal not yet due).
    await there.update("c-1", lambda current: Revision({**current, "n": 1}, [second]))
    published = await ce_ids(kafka_settings, expect=2)

    async def drained() -> bool:
        return await pending(mongo_db, "c-1", collection) == 0

    await eventually(drained, timeout=20)
    assert published == [first.envelope.id, second.envelope.id], "each once, in the order written"


async def test_a_document_whose_sent_entries_wait_for_removal_is_deleted(
    replicas: list[ServiceRuntime], kafka_settings: KafkaSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    store = replicas[0].documents("clients")
    await store.insert({"_id": "c-1", "n": 0}, [flagged("c-1")])

    assert await store.delete("c-1") is True
    assert await mongo_db["clients"].find_one({"_id": "c-1"}) is None


async def test_a_stopping_replica_removes_what_it_sent_so_no_peer_publishes_it_again(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    runtime = checked_runtime(kafka_settings, mongo_settings, mongo_db.name)
    await runtime.start()
    try:
        await runtime.documents("clients").insert({"_id": "c-1", "n": 0}, [flagged("c-1")])
    finally:
        await runtime.stop()

    assert await pending(mongo_db, "c-1") == 0


async def test_a_leased_write_from_a_handed_copy_keeps_a_change_made_meanwhile_without_the_lease(
    mongo_db: AsyncDatabase[Any],
) -> None:
    # The removal later takes no lease: a copy read (and handed on) under the lease before it
    # must not be stored whole over it.
    store = DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"], linger_seconds=5.0), owner="here")
    await store.insert({"_id": "c-1", "n": 0})
    await store.get("c-1", writing=True)  # the lease stays, the document handed on for the write
    await mongo_db["counters"].update_one(
        {"_id": "c-1"}, {"$set": {"removed": "meanwhile", REVISION: new_revision()}}
    )

    await store.update("c-1", lambda current: Revision({**current, "n": current["n"] + 1}))

    stored = await mongo_db["counters"].find_one({"_id": "c-1"})
    assert stored is not None and (stored["n"], stored.get("removed")) == (1, "meanwhile")
