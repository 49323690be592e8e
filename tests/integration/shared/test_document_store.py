"""Changes to one document are serialised by its lease: none is lost, events included.

FerretDB 1.24 applies an update as a read followed by a whole-document write, so two
unserialised writers of one document can erase each other's change; these tests prove
the lease closes that gap on the server the suite runs on.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.events.common import RiskLevel
from shared.events.envelope import Envelope, new_event
from shared.events.models import RiskFlagged
from shared.events.registry import spec_for
from shared.runtime import ServiceRuntime
from shared.settings import KafkaSettings, MongoSettings
from shared.storage.documents import CAUSES, DocumentStore, Revision, cause_key
from shared.storage.locks import Lease, Locks
from shared.storage.outbox import OUTBOX_PENDING
from tests.support.kafka import eventually, read_records
from tests.support.runtime import build_runtime


def increment(document: dict[str, Any]) -> Revision:
    return Revision({**document, "n": document.get("n", 0) + 1})


def cause_of(event_id: str) -> Envelope:
    """The envelope of a consumed event `event_id`, as a write's cause."""
    return Envelope(
        id=event_id, source="test", type="test-event", time=datetime.now(UTC), subject="c", correlation_id="j"
    )


def clients_runtime(
    kafka: KafkaSettings, mongo: MongoSettings, database: str, **overrides: Any
) -> ServiceRuntime:
    """A runtime whose `clients` documents carry `risk-flagged` events (see `flag`)."""
    return build_runtime(
        kafka, mongo, database, produces=[spec_for(RiskFlagged)], outbox_collections=["clients"], **overrides
    )


def flag(i: int) -> Any:
    """A change of client-1 that counts a flag and raises `risk-flagged` for check-in `ci-<i>`."""

    def change(document: dict[str, Any]) -> Revision:
        event = new_event(
            RiskFlagged(
                check_in_id=f"ci-{i}",
                client_id="client-1",
                risk_level=RiskLevel.low,
                reasons=["phq9_item9_positive"],
                flagged_at=datetime.now(UTC),
            ),
            source="intake",
        )
        return Revision({**document, "flags": document["flags"] + 1}, [event])

    return change


async def test_concurrent_changes_from_two_replicas_to_one_document_are_all_kept(
    mongo_db: AsyncDatabase[Any],
) -> None:
    # Each replica has its own Locks, as separate processes do: they meet only at the shared lease.
    replicas = [
        DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"]), owner=f"replica-{i}") for i in range(2)
    ]
    await replicas[0].insert({"_id": "c-1", "n": 0})

    await asyncio.gather(*(replicas[i % 2].update("c-1", increment) for i in range(30)))

    assert (await replicas[0].get("c-1")) == {"_id": "c-1", "n": 30}


class CountingLocks(Locks):
    """Locks that count refused lease inserts (a writer finding the lease taken)."""

    refused = 0

    async def _insert(self, resource: str, owner: str, ttl: timedelta) -> Lease | None:
        lease = await super()._insert(resource, owner, ttl)
        self.refused += lease is None
        return lease


async def test_writers_of_one_document_in_one_process_take_turns_without_contending_for_the_lease(
    mongo_db: AsyncDatabase[Any],
) -> None:
    locks = CountingLocks(mongo_db["locks"])
    store = DocumentStore(mongo_db["counters"], locks, owner="replica")
    await store.insert({"_id": "c-2", "n": 0})

    await asyncio.gather(*(store.update("c-2", increment) for _ in range(30)))

    assert (await store.get("c-2")) == {"_id": "c-2", "n": 30}
    assert locks.refused == 0, "each writer found the shared lease free when its turn came"


async def test_a_change_to_a_missing_document_returns_none_and_creates_nothing(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"]), owner="r")
    assert await store.update("absent", increment) is None
    assert await mongo_db["counters"].count_documents({}) == 0


async def test_an_insert_in_order_stops_at_the_first_document_that_exists(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = DocumentStore(mongo_db["cells"], Locks(mongo_db["locks"]), owner="r")
    await mongo_db["cells"].insert_one({"_id": "c", "by": "someone else"})
    stopped = await store.insert_in_order([{"_id": i, "by": "me"} for i in ("a", "b", "c", "d")])
    assert stopped == 2, "the position of the first that existed"
    kept = {d["_id"]: d["by"] async for d in mongo_db["cells"].find()}
    assert kept == {"a": "me", "b": "me", "c": "someone else"}, "those before it inserted, none after"
    assert await store.insert_in_order([{"_id": "e"}, {"_id": "f"}]) is None


async def test_writers_and_the_relay_never_erase_each_others_changes(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    runtime = clients_runtime(kafka_settings, mongo_settings, mongo_db.name)
    store = runtime.documents("clients")
    await runtime.start()
    await store.insert({"_id": "client-1", "flags": 0})

    try:
        for batch in range(5):  # the relay publishes between and during the batches
            await asyncio.gather(*(store.update("client-1", flag(batch * 10 + i)) for i in range(10)))
        records = await read_records(kafka_settings, kafka_settings.topic("risk-flagged"), expect=50)

        async def drained() -> bool:
            document = await mongo_db["clients"].find_one({"_id": "client-1"})
            return document is not None and document[OUTBOX_PENDING] == 0

        await eventually(drained)
    finally:
        await runtime.stop()
    document = await mongo_db["clients"].find_one({"_id": "client-1"})
    assert document is not None and document["flags"] == 50
    assert len({dict(r.headers)["ce_id"] for r in records}) == 50


async def test_a_store_without_a_relay_refuses_events_before_writing_anything(
    mongo_db: AsyncDatabase[Any],
) -> None:
    claims = DocumentStore(mongo_db["claims"], Locks(mongo_db["locks"]), owner="r", relayed=False)
    event = new_event(
        RiskFlagged(
            intake_id="i-1",
            client_id="client-1",
            risk_level=RiskLevel.high,
            reasons=["cssrs_q5_plan_with_intent"],
            flagged_at=datetime.now(UTC),
        ),
        source="intake",
    )
    with pytest.raises(ValueError, match="not relayed"):
        await claims.insert({"_id": "c-1"}, [event])
    assert await claims.insert({"_id": "c-1"}) is True
    with pytest.raises(ValueError, match="not relayed"):
        await claims.update("c-1", lambda d: Revision(d, [event]))
    assert await mongo_db["claims"].find_one({"_id": "c-1"}) == {
        "_id": "c-1",
        "_outbox": {},
        "_outbox_pending": 0,
    }


async def test_a_document_remembers_its_causes_as_short_digests_and_applies_a_redelivered_one_once(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"]), owner="replica")
    created, again = (cause_of("event-0"), cause_of("event-1"))
    await store.insert({"_id": "c-1", "n": 0}, cause=created)

    await store.update("c-1", increment, cause=again)
    await store.update("c-1", increment, cause=again)  # redelivered: no second effect

    stored = await mongo_db["counters"].find_one({"_id": "c-1"})
    assert stored is not None and stored["n"] == 1
    assert stored[CAUSES] == [cause_key("event-0"), cause_key("event-1")]
    assert all(len(key) == 12 for key in stored[CAUSES])
    assert await store.insert({"_id": "c-1", "n": 0}, cause=created) is False  # its creation, again


async def test_a_cause_remembered_by_its_whole_id_before_the_digests_is_still_applied_once(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"]), owner="replica")
    await mongo_db["counters"].insert_one({"_id": "c-1", "n": 1, CAUSES: ["event-1"]})

    assert await store.update("c-1", increment, cause=cause_of("event-1")) == {"_id": "c-1", "n": 1}
    assert await store.update("c-1", increment, cause=cause_of("event-2")) == {"_id": "c-1", "n": 2}
