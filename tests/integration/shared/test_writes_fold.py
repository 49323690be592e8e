"""Writes of one document that meet in one process fold into one (group commit).

Round trips are counted on the real server: the point is that a document everyone wants at
once (a popular therapist's holds) costs one write per turn, not one per writer, while each
caller still sees its own change's result or error, and causes stay applied once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.events.envelope import Envelope
from shared.storage import Document
from shared.storage.documents import DocumentStore, Revision
from shared.storage.locks import Locks, document_lock
from shared.storage.outbox import OUTBOX_PENDING, OutboxRelay, PendingEvent
from tests.integration.shared.test_document_store import flag, increment
from tests.support.round_trips import RoundTrips


def cause(event_id: str) -> Envelope:
    return Envelope(
        id=event_id, source="test", type="test-event", time=datetime.now(UTC), subject="c", correlation_id="j"
    )


def relayed_clients(db: AsyncDatabase[Any]) -> tuple[DocumentStore, list[str]]:
    """A store of `clients` whose events are published inline, and the ids the broker confirmed."""
    locks = Locks(db["locks"])
    published: list[str] = []

    async def publish(event: PendingEvent) -> None:
        published.append(event.event_id)

    relay = OutboxRelay([db["clients"]], publish, locks, owner="replica")
    return DocumentStore(db["clients"], locks, owner="replica", publish_held=relay.publish_held), published


async def test_concurrent_writes_of_one_document_are_stored_in_one_write_and_each_caller_sees_its_own_change(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    store = DocumentStore(db["counters"], Locks(db["locks"]), owner="replica")
    await store.insert({"_id": "c-1", "n": 0})
    round_trips.clear()

    results = await asyncio.gather(*(store.update("c-1", increment) for _ in range(30)))

    assert sorted(r["n"] for r in results if r is not None) == list(range(1, 31))
    assert round_trips.seen[("update", "counters")] == 1, "thirty changes, one replace"
    assert round_trips.seen[("insert", "locks")] == 1
    assert (await db["counters"].find_one({"_id": "c-1"}, {"n": 1})) == {"_id": "c-1", "n": 30}


async def test_a_change_that_fails_fails_only_its_caller_and_the_others_are_stored(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"]), owner="replica")
    await store.insert({"_id": "c-1", "n": 0})

    def refuse(document: dict[str, Any]) -> Revision:
        raise ValueError("not allowed in this state")

    results = await asyncio.gather(
        store.update("c-1", increment),
        store.update("c-1", refuse),
        store.update("c-1", increment),
        return_exceptions=True,
    )

    assert isinstance(results[1], ValueError)
    assert (await store.get("c-1")) == {"_id": "c-1", "n": 2}


async def test_one_cause_asked_twice_in_one_fold_is_applied_once(mongo_db: AsyncDatabase[Any]) -> None:
    store = DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"]), owner="replica")
    await store.insert({"_id": "c-1", "n": 0})
    redelivered = cause("event-1")

    first, again = await asyncio.gather(
        store.update("c-1", increment, cause=redelivered),
        store.update("c-1", increment, cause=redelivered),
    )

    assert first == again == {"_id": "c-1", "n": 1}
    assert (await store.get("c-1")) == {"_id": "c-1", "n": 1}


async def test_folded_changes_publish_every_event_they_carry_once(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    store, published = relayed_clients(db)
    await db["clients"].insert_one({"_id": "client-1", "flags": 0, OUTBOX_PENDING: 0})
    round_trips.clear()

    await asyncio.gather(*(store.update("client-1", flag(i)) for i in range(5)))

    assert len(published) == len(set(published)) == 5
    assert round_trips.seen[("update", "clients")] == 2, "one replace, one removal of the sent events"
    stored = await db["clients"].find_one({"_id": "client-1"})
    assert stored is not None and stored["flags"] == 5 and stored[OUTBOX_PENDING] == 0


async def test_a_caller_cancelled_while_its_change_waits_has_it_never_made(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"]), owner="replica")
    other = Locks(mongo_db["locks"])  # another replica, holding the document's lease a moment
    await store.insert({"_id": "c-1", "n": 0})
    lease = await other.acquire(document_lock(mongo_db["counters"], "c-1"), "other", timedelta(seconds=30))

    first = asyncio.create_task(store.update("c-1", increment))
    second = asyncio.create_task(store.update("c-1", increment))
    await asyncio.sleep(0.05)
    second.cancel()
    await other.release(lease)

    assert (await first) == {"_id": "c-1", "n": 1}
    with pytest.raises(asyncio.CancelledError):
        await second
    assert (await store.get("c-1")) == {"_id": "c-1", "n": 1}


async def test_a_write_of_several_documents_folds_with_a_write_of_one_of_them_and_loses_nothing(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"]), owner="replica")
    await mongo_db["counters"].insert_many([{"_id": i, "n": 0} for i in ("c-1", "c-2", "c-3")])

    await asyncio.gather(
        store.update("c-2", increment),
        store.update_many([(i, increment) for i in ("c-1", "c-2", "c-3")]),
        store.update_many([(i, increment) for i in ("c-2", "c-3")]),
        store.update("c-3", increment),
    )

    stored = {d["_id"]: d["n"] async for d in mongo_db["counters"].find({})}
    assert stored == {"c-1": 1, "c-2": 3, "c-3": 3}
    assert await mongo_db["locks"].count_documents({}) == 0


async def test_lone_writes_at_once_take_their_leases_in_one_more_insert_and_replace_in_bulk(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    store = DocumentStore(db["counters"], Locks(db["locks"]), owner="replica")
    ids = [f"c-{n}" for n in range(20)]
    await db["counters"].insert_many([{"_id": i, "n": 0} for i in ids])
    round_trips.clear()

    results = await asyncio.gather(*(store.update(i, increment) for i in ids))

    assert [r["n"] for r in results if r is not None] == [1] * 20
    assert round_trips.seen[("insert", "locks")] == 2, "the first alone, the other 19 together"
    assert round_trips.replacing["counters"] < 20, "twenty writes that met, fewer replace commands"
    assert {d["n"] async for d in db["counters"].find({})} == {1}
    assert await db["locks"].count_documents({}) == 0


async def test_a_document_that_cannot_be_sent_among_writes_that_met_fails_alone(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"]), owner="replica")
    ids = [f"c-{n}" for n in range(6)]
    await mongo_db["counters"].insert_many([{"_id": i, "n": 0} for i in ids])

    def unsendable(current: Document | None) -> Revision:
        assert current is not None
        return Revision({**current, "tags": {"a set", "has no BSON"}})

    outcomes = await asyncio.gather(
        *(store.update(i, unsendable if i == "c-3" else increment) for i in ids), return_exceptions=True
    )

    assert [isinstance(o, Exception) for o in outcomes] == [i == "c-3" for i in ids]
    stored = {d["_id"]: d["n"] async for d in mongo_db["counters"].find({})}
    assert stored == {i: 0 if i == "c-3" else 1 for i in ids}


async def test_sent_events_of_documents_written_meanwhile_are_removed_together(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    store, published = relayed_clients(db)
    ids = [f"client-{n}" for n in range(10)]
    await db["clients"].insert_many([{"_id": i, "flags": 0, OUTBOX_PENDING: 0} for i in ids])
    round_trips.clear()

    await asyncio.gather(*(store.update(i, flag(n)) for n, i in enumerate(ids)))

    assert len(set(published)) == 10
    # The sent entries removed: the first document's alone, those of the documents whose events
    # were confirmed meanwhile together (how many meet depends on timing).
    removals = round_trips.seen[("update", "clients")] - round_trips.replacing["clients"]
    assert 1 <= removals < 10
    assert {d[OUTBOX_PENDING] async for d in db["clients"].find({})} == {0}
