"""Leases that stay a moment, handed on with the document; releases by `_id`; inline relay.

Round trips are counted with PyMongo's command monitoring on the real server, since the
point of these changes is how many a write costs.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.settings import KafkaSettings, MongoSettings
from shared.storage.documents import DocumentStore, Revision
from shared.storage.liveness import Liveness
from shared.storage.locks import Locks, LockTimeout
from shared.storage.outbox import OUTBOX_PENDING
from tests.integration.shared.test_document_store import clients_runtime, flag, increment
from tests.support.kafka import eventually, read_records
from tests.support.round_trips import RoundTrips


async def test_a_burst_of_writes_to_one_document_takes_its_lease_once_and_reads_it_once(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, commands = counted
    locks = Locks(db["locks"], linger_seconds=5.0)
    store = DocumentStore(db["counters"], locks, owner="replica")
    await store.insert({"_id": "c-1", "n": 0})
    commands.seen.clear()

    for _ in range(10):  # one after another, each within the idle window of the one before
        await store.update("c-1", increment)

    assert commands.seen[("insert", "locks")] == 1
    assert commands.seen[("find", "counters")] == 1, "later writers got the document handed on"
    assert commands.seen[("update", "counters")] == 10
    await locks.release_lingering()
    assert commands.seen[("delete", "locks")] == 1
    assert await db["locks"].count_documents({}) == 0
    assert (await store.get("c-1")) == {"_id": "c-1", "n": 10}


async def test_a_read_of_a_document_whose_lease_lingers_here_costs_no_round_trip(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, commands = counted
    locks = Locks(db["locks"], linger_seconds=5.0)
    store = DocumentStore(db["counters"], locks, owner="replica")
    await store.insert({"_id": "c-1", "n": 0})
    await store.update("c-1", increment)
    commands.seen.clear()

    read = await store.get("c-1")

    assert read == {"_id": "c-1", "n": 1}
    assert commands.seen == {}, "the lease this process keeps holds the document as written"
    await locks.release_lingering()
    assert await store.get("c-1") == {"_id": "c-1", "n": 1}
    assert commands.seen[("find", "counters")] == 1, "no lease kept: read from the server"


async def test_a_read_for_writing_leaves_the_write_neither_a_lease_nor_a_read_to_make(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, commands = counted
    locks = Locks(db["locks"], linger_seconds=5.0)
    store = DocumentStore(db["counters"], locks, owner="replica")
    await store.insert({"_id": "c-1", "n": 0})
    commands.seen.clear()

    assert await store.get("c-1", writing=True) == {"_id": "c-1", "n": 0}
    assert await store.get("c-new", writing=True) is None
    await store.update("c-1", increment)
    await store.upsert("c-new", lambda current: Revision({"n": 1}) if current is None else None)

    assert commands.seen == {
        ("insert", "locks"): 2,  # taken by the reads
        ("find", "counters"): 2,  # the reads: the writes got what they found, absent included
        ("update", "counters"): 1,
        ("insert", "counters"): 1,
    }
    await locks.release_lingering()
    assert await store.get("c-new") == {"_id": "c-new", "n": 1}


async def test_an_idle_lease_goes_back_by_itself_after_its_window(mongo_db: AsyncDatabase[Any]) -> None:
    store = DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"], linger_seconds=0.05), owner="r")
    await store.insert({"_id": "c-1", "n": 0})
    await store.update("c-1", increment)

    async def given_back() -> bool:
        return await mongo_db["locks"].count_documents({}) == 0

    await eventually(given_back, timeout=5.0)


async def test_leases_going_idle_in_the_same_tick_go_back_in_one_round_trip(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    tick = 1.0
    store = DocumentStore(
        db["counters"], Locks(db["locks"], linger_seconds=0.05, release_tick_seconds=tick), owner="replica"
    )
    await db["counters"].insert_many([{"_id": f"c-{i}", "n": 0} for i in range(3)])
    loop = asyncio.get_running_loop()
    await asyncio.sleep(tick - loop.time() % tick + 0.01)  # just past a tick: all three end before the next
    await asyncio.gather(*(store.update(f"c-{i}", increment) for i in range(3)))
    round_trips.clear()

    async def given_back() -> bool:
        return await db["locks"].count_documents({}) == 0

    await eventually(given_back, timeout=5.0)
    assert round_trips.seen[("delete", "locks")] == 1


async def test_a_replica_handing_a_lease_on_still_lets_another_replica_write(
    mongo_db: AsyncDatabase[Any],
) -> None:
    busy = DocumentStore(
        mongo_db["counters"], Locks(mongo_db["locks"], linger_seconds=1.0, hand_on_seconds=0.1), owner="busy"
    )
    other = DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"]), owner="other")
    await busy.insert({"_id": "c-1", "n": 0, "other": False})
    other_done = asyncio.Event()

    async def keep_writing() -> int:
        writes = 0
        while not other_done.is_set() and writes < 5_000:
            await busy.update("c-1", increment)
            writes += 1
        return writes

    async def write_once() -> None:
        await other.update("c-1", lambda d: Revision({**d, "other": True}))
        other_done.set()

    writes, _ = await asyncio.gather(keep_writing(), write_once())

    assert writes < 5_000, "the other replica got its turn while the busy one kept writing"
    document = await busy.get("c-1")
    assert document is not None and document["other"] is True and document["n"] == writes


async def test_a_release_never_removes_a_lease_taken_over_after_it_expired(
    mongo_db: AsyncDatabase[Any],
) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    stalled = Locks(mongo_db["locks"], clock=lambda: now[0])
    successor = Locks(mongo_db["locks"], clock=lambda: now[0])
    old = await stalled.acquire("clients/c-1", "stalled", timedelta(seconds=10))
    now[0] += timedelta(seconds=11)  # the holder stalled past its lease
    new = await successor.acquire("clients/c-1", "successor", timedelta(seconds=10))

    await stalled.release(old)

    assert await successor.is_held(new)


async def test_a_caller_changing_a_returned_document_does_not_change_what_the_next_writer_sees(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"], linger_seconds=5.0), owner="r")
    await store.insert({"_id": "c-1", "n": 0, "tags": []})
    returned = await store.update("c-1", increment)
    assert returned is not None
    returned["tags"].append("changed by the caller, never written")

    after = await store.update("c-1", increment)

    assert after == {"_id": "c-1", "n": 2, "tags": []}


async def test_a_write_publishes_its_own_events_and_the_next_write_removes_them_unasked(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    # The lease lingers for the whole loop: with the services' 0.1 s, a loaded machine (CI's
    # parallel workers) let it go between two writes, and the next one, reading the document
    # afresh, rightly carried the sent entry along for the removal later.
    runtime = clients_runtime(
        kafka_settings, mongo_settings, mongo_db.name, document_lease_linger_seconds=5.0
    )
    store = runtime.documents("clients")
    await runtime.start()
    try:
        await store.insert({"_id": "client-1", "flags": 0})
        for i in range(3):
            await store.update("client-1", flag(i))
            document = await mongo_db["clients"].find_one({"_id": "client-1"})
            # Its own entry, sent, waits for the removal later; the one before went with this write.
            assert document is not None and document[OUTBOX_PENDING] == 1, "the previous entry removed"
        records = await read_records(kafka_settings, kafka_settings.topic("risk-flagged"), expect=3)

        async def removed() -> bool:
            document = await mongo_db["clients"].find_one({"_id": "client-1"})
            return document is not None and document[OUTBOX_PENDING] == 0

        await eventually(removed, timeout=10)
    finally:
        await runtime.stop()
    assert len({dict(r.headers)["ce_id"] for r in records}) == 3


async def test_documents_claimed_together_are_written_without_a_lease_or_read_of_their_own(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    locks = Locks(db["locks"])
    store = DocumentStore(db["counters"], locks, owner="replica")
    await store.insert({"_id": "c-old", "n": 0})  # exists: its claim is refused, as a redelivery's
    round_trips.clear()

    async with store.claiming(
        [{"_id": f"c-{i}", "n": 0} for i in range(3)] + [{"_id": "c-old", "n": 5}]
    ) as existed:
        assert existed == {"c-old"}
        for i in range(3):
            await store.update(f"c-{i}", increment)

    assert round_trips.seen == {
        ("insert", "locks"): 1,  # every claim's lease, at once
        ("insert", "counters"): 1,  # every claim, at once
        ("update", "counters"): 3,  # each claim's write: no lease, no read of its own
        ("delete", "locks"): 1,  # all four leases go back at once
    }
    assert await db["locks"].count_documents({}) == 0
    assert [await store.get(f"c-{i}") for i in range(3)] == [{"_id": f"c-{i}", "n": 1} for i in range(3)]
    assert await store.get("c-old") == {"_id": "c-old", "n": 0}


async def test_other_documents_held_with_the_claims_are_written_under_those_leases_and_given_back_with_them(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    locks = Locks(db["locks"])
    claims = DocumentStore(db["counters"], locks, owner="replica")
    logs = DocumentStore(db["logs"], locks, owner="replica")
    await logs.insert({"_id": "log-old", "n": 0})
    elsewhere = DocumentStore(db["logs"], Locks(db["locks"]), owner="elsewhere", wait_seconds=0.3)
    round_trips.clear()

    async with claims.claiming(
        [{"_id": "c-1", "n": 0}], also=[logs.lease_of("log-old"), logs.lease_of("log-new")]
    ):
        await logs.upsert_many([("log-old", _counted), ("log-new", _counted)])
        seen = dict(round_trips.seen)
        with pytest.raises(LockTimeout):  # held for the whole block, as the claims are
            await elsewhere.update("log-old", increment)
        round_trips.clear()

    assert seen[("insert", "locks")] == 1, "the claim's lease and both logs' in one insert"
    assert round_trips.seen[("delete", "locks")] == 1, "given back together at the block's end"
    assert await logs.get("log-old") == {"_id": "log-old", "n": 1}
    assert await logs.get("log-new") == {"_id": "log-new", "n": 1}
    assert await db["locks"].count_documents({}) == 0


def _counted(current: dict[str, Any] | None) -> Revision:
    return Revision({"n": (current or {}).get("n", 0) + 1})


async def test_a_claim_held_in_one_process_waits_for_no_one_there_and_blocks_other_replicas(
    mongo_db: AsyncDatabase[Any],
) -> None:
    here = DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"]), owner="here")
    elsewhere = DocumentStore(
        mongo_db["counters"], Locks(mongo_db["locks"]), owner="elsewhere", wait_seconds=0.3
    )
    async with here.claiming([{"_id": "c-1", "n": 0}]):
        await here.update("c-1", increment)
        with pytest.raises(LockTimeout):  # another replica waits until the claim's block ends
            await elsewhere.update("c-1", increment)
    await elsewhere.update("c-1", increment)
    assert await here.get("c-1") == {"_id": "c-1", "n": 2}


async def test_a_replica_whose_heartbeat_ran_out_never_removes_the_lease_taken_over_from_it(
    mongo_db: AsyncDatabase[Any],
) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    heartbeat = Liveness(mongo_db["replicas"], instance="stalled", clock=lambda: now[0])
    stalled = Locks(mongo_db["locks"], liveness=heartbeat, clock=lambda: now[0])
    successor = Locks(
        mongo_db["locks"], liveness=Liveness(mongo_db["replicas"], instance="successor"), clock=lambda: now[0]
    )
    await heartbeat.beat()
    old = await stalled.acquire("clients/c-1", "stalled", timedelta(seconds=30))
    now[0] += timedelta(seconds=4)  # no beat since: peers find it dead, its lease not yet expired
    new = await successor.acquire("clients/c-1", "successor", timedelta(seconds=30))

    await stalled.release(old)

    assert await successor.is_held(new)


async def test_a_lease_this_replica_could_not_give_back_is_taken_over_by_its_next_writer_here_at_once(
    mongo_db: AsyncDatabase[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database was unreachable at the give-back: the lease stays, its owner alive."""
    heartbeat = Liveness(mongo_db["replicas"], instance="replica-a")
    locks = Locks(mongo_db["locks"], liveness=heartbeat, linger_seconds=0.05)
    await heartbeat.beat()

    async def unreachable(leases: Any) -> None:
        raise ConnectionError("database down")

    with monkeypatch.context() as patched:
        patched.setattr(locks, "_release_all", unreachable)
        async with locks.held("clients/c-1", "replica-a", timedelta(seconds=30)):
            pass
        await asyncio.sleep(0.5)  # its idle window ends and its give-back fails
    assert await mongo_db["locks"].find_one({"_id": "clients/c-1"}) is not None, "still there"

    other_replica = Locks(mongo_db["locks"], liveness=Liveness(mongo_db["replicas"], instance="replica-b"))
    assert await other_replica.try_acquire("clients/c-1", "replica-b", timedelta(seconds=30)) is None
    async with asyncio.timeout(2):  # not the 30 s of its expiry, nor the 10 s of a lease wait
        async with locks.held("clients/c-1", "replica-a", timedelta(seconds=30)):
            pass


async def test_a_writer_waiting_for_a_lease_takes_the_one_a_block_of_its_own_process_took_meanwhile(
    mongo_db: AsyncDatabase[Any],
) -> None:
    """A block's `hold_new` insert can land between a waiting writer's turn and its own insert:
    that writer must not then wait on its own process (until its wait ran out, while the block's
    next write waited for the writer's turn)."""
    ttl = timedelta(seconds=30)
    here = Locks(mongo_db["locks"], linger_seconds=0.1)
    other_replica = Locks(mongo_db["locks"])
    theirs = await other_replica.acquire("clients/c-1", "replica-b", ttl)

    async def write() -> None:
        async with here.held("clients/c-1", "replica-a", ttl, wait_seconds=3.0):
            pass

    writer = asyncio.create_task(write())
    await asyncio.sleep(0.05)  # the writer has its turn and polls: another replica has the lease
    await other_replica.release(theirs)
    held = await here.hold_new(["clients/c-1"], "replica-a", ttl)  # lands before its next poll
    async with here.held("clients/c-1", "replica-a", ttl, wait_seconds=3.0):  # the block's own write
        pass
    await here.let_go(held)

    await writer  # no LockTimeout: the writer went on with the lease the block took
    await here.release_lingering()
    assert await mongo_db["locks"].count_documents({}) == 0


async def test_the_relay_does_not_take_a_lease_a_block_of_this_process_holds(
    mongo_db: AsyncDatabase[Any],
) -> None:
    """The block's writes publish their own events; taking its lease would end its exclusion."""
    ttl = timedelta(seconds=30)
    locks = Locks(mongo_db["locks"], linger_seconds=0.1)
    held = await locks.hold_new(["clients/c-1"], "replica-a", ttl)

    assert await locks.try_held("clients/c-1", "replica-a", ttl) is None

    await locks.let_go(held)
    await locks.release_lingering()
    assert await locks.try_held("clients/c-1", "replica-a", ttl) is not None
