"""`DocumentStore.update_many`: several documents changed at once, each still its own atomic write.

Round trips are counted on the real server (the point is what a batch of writes costs), and
the races are run between two stores with their own `Locks`, as two replicas would be.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.events.envelope import Envelope
from shared.storage.documents import DocumentStore, Revision
from shared.storage.locks import Locks
from shared.storage.outbox import OUTBOX_PENDING, OutboxRelay, PendingEvent
from tests.integration.shared.test_document_store import flag, increment
from tests.support.round_trips import RoundTrips

IDS = ("c-1", "c-2", "c-3")


async def test_documents_updated_together_take_their_leases_write_and_let_go_in_one_round_trip_each(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    store = DocumentStore(db["counters"], Locks(db["locks"]), owner="replica")
    await db["counters"].insert_many([{"_id": i, "n": 0} for i in IDS])
    round_trips.clear()

    updated = await store.update_many([(i, increment) for i in IDS] + [("c-absent", increment)])

    assert updated == {**{i: {"_id": i, "n": 1} for i in IDS}, "c-absent": None}
    assert round_trips.seen == {
        ("insert", "locks"): 1,  # every lease at once
        ("find", "counters"): 4,  # each document read (concurrently): no filter but a lone _id
        ("update", "counters"): 1,  # every changed document replaced in one bulk write
        ("delete", "locks"): 1,  # every lease back at once
    }
    assert await db["locks"].count_documents({}) == 0


async def test_documents_written_together_publish_their_events_and_remove_them_in_one_more_write(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    locks = Locks(db["locks"])
    published: list[str] = []

    async def publish(event: PendingEvent) -> None:  # the broker, confirming each event
        published.append(event.event_id)

    relay = OutboxRelay([db["clients"]], publish, locks, owner="replica")
    store = DocumentStore(db["clients"], locks, owner="replica", publish_held=relay.publish_held)
    await db["clients"].insert_many([{"_id": i, "flags": 0, OUTBOX_PENDING: 0} for i in IDS])
    round_trips.clear()

    await store.update_many([(i, flag(n)) for n, i in enumerate(IDS)])

    assert round_trips.seen[("update", "clients")] == 2, "one bulk write of the documents, one of the sends"
    assert len(set(published)) == 3
    for document_id in IDS:
        document = await db["clients"].find_one({"_id": document_id})
        assert document is not None and document["flags"] == 1 and document[OUTBOX_PENDING] == 0


async def test_a_document_another_replica_holds_is_written_on_its_own_once_free_the_others_at_once(
    mongo_db: AsyncDatabase[Any],
) -> None:
    elsewhere = Locks(mongo_db["locks"])
    store = DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"]), owner="here", wait_seconds=5.0)
    await mongo_db["counters"].insert_many([{"_id": i, "n": 0} for i in IDS])
    lease = await elsewhere.acquire("counters/c-2", "elsewhere", timedelta(seconds=30))

    async def let_go_soon() -> None:
        await asyncio.sleep(0.3)
        await elsewhere.release(lease)

    updated, _ = await asyncio.gather(store.update_many([(i, increment) for i in IDS]), let_go_soon())

    assert updated == {i: {"_id": i, "n": 1} for i in IDS}
    assert await mongo_db["locks"].count_documents({}) == 0


async def test_two_replicas_writing_overlapping_documents_together_lose_no_write_and_never_deadlock(
    mongo_db: AsyncDatabase[Any],
) -> None:
    one = DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"], linger_seconds=0.05), owner="one")
    two = DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"], linger_seconds=0.05), owner="two")
    await mongo_db["counters"].insert_many([{"_id": i, "n": 0} for i in IDS])
    rounds = 15

    async def keep_writing(store: DocumentStore, ids: tuple[str, ...]) -> None:
        for _ in range(rounds):
            await store.update_many([(i, increment) for i in ids])

    # Each takes the overlap in its own order: had either held some leases while waiting for
    # the rest, the two would wait on each other until their writes timed out.
    await asyncio.gather(keep_writing(one, ("c-1", "c-2")), keep_writing(two, ("c-3", "c-2")))

    counts = {d["_id"]: d["n"] async for d in mongo_db["counters"].find({})}
    assert counts == {"c-1": rounds, "c-2": 2 * rounds, "c-3": rounds}


async def test_a_cause_already_recorded_changes_none_of_the_documents_again(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"]), owner="replica")
    await mongo_db["counters"].insert_many([{"_id": i, "n": 0} for i in IDS])
    cause = Envelope(
        id="evt-1",
        source="test",
        type="test-event",
        time=datetime.now(UTC),
        subject="c",
        correlation_id="j-1",
    )

    await store.update_many([(i, increment) for i in IDS], cause=cause)
    again = await store.update_many([(i, increment) for i in IDS], cause=cause)  # redelivered

    assert again == {i: {"_id": i, "n": 1} for i in IDS}


async def test_documents_upserted_together_are_created_in_one_insert_and_changed_in_one_replace(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    store = DocumentStore(db["counters"], Locks(db["locks"]), owner="replica")
    await db["counters"].insert_one({"_id": "c-1", "n": 4})
    round_trips.clear()

    def count(current: dict[str, Any] | None) -> Revision:
        return Revision({"n": (current or {}).get("n", 0) + 1})

    written = await store.upsert_many([(i, count) for i in IDS])

    assert written == {
        "c-1": {"_id": "c-1", "n": 5},
        "c-2": {"_id": "c-2", "n": 1},
        "c-3": {"_id": "c-3", "n": 1},
    }
    assert round_trips.seen[("insert", "counters")] == 1, "both new ones at once"
    assert round_trips.seen[("update", "counters")] == 1
    assert round_trips.seen[("insert", "locks")] == 1


async def test_a_lease_handed_on_long_enough_is_given_back_and_its_document_written_on_its_own(
    mongo_db: AsyncDatabase[Any],
) -> None:
    locks = Locks(mongo_db["locks"], linger_seconds=5.0, hand_on_seconds=0.05)
    store = DocumentStore(mongo_db["counters"], locks, owner="replica")
    await mongo_db["counters"].insert_many([{"_id": i, "n": 0} for i in IDS])
    await store.update("c-1", increment)  # its lease lingers here
    await asyncio.sleep(0.1)  # and has been handed on for long enough

    updated = await store.update_many([(i, increment) for i in IDS])

    assert updated == {
        "c-1": {"_id": "c-1", "n": 2},
        "c-2": {"_id": "c-2", "n": 1},
        "c-3": {"_id": "c-3", "n": 1},
    }
    await locks.release_lingering()
    assert await mongo_db["locks"].count_documents({}) == 0
