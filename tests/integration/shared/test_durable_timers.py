"""Durable timers: leased claims, survival across restarts, once-in-effect firing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.events.envelope import OutgoingEvent, new_event
from shared.events.models import CheckInDue
from shared.events.registry import spec_for
from shared.settings import KafkaSettings, MongoSettings
from shared.storage.locks import Locks
from shared.storage.outbox import OUTBOX
from shared.storage.timers import Timer, TimerStore, TimerWorker
from tests.support.kafka import read_records
from tests.support.runtime import build_runtime

KIND = "check-in"


def check_in_due_handler(calls: list[str]) -> Any:
    async def fire(timer: Timer) -> Sequence[OutgoingEvent]:
        calls.append(timer.id)
        await asyncio.sleep(0.05)  # widen the race window
        data = CheckInDue(
            check_in_id=str(timer.payload["check_in_id"]),
            client_id=str(timer.payload["client_id"]),
            therapist_id="therapist-1",
            due_at=timer.due_at,
            instruments=["phq9", "gad7"],
        )
        return [new_event(data, source="scheduling", event_id=timer.event_id("check-in-due"))]

    return fire


def timer_store(db: AsyncDatabase[Any]) -> TimerStore:
    return TimerStore(db["timers"], Locks(db["locks"]))


async def test_two_workers_racing_for_due_timers_fire_each_once(mongo_db: AsyncDatabase[Any]) -> None:
    store = timer_store(mongo_db)
    await store.ensure_indexes()
    now = datetime.now(UTC)
    ids = [f"ci-race-{i}" for i in range(20)]
    for timer_id in ids:
        await store.schedule(
            timer_id, KIND, now - timedelta(seconds=1), {"check_in_id": timer_id, "client_id": "c-1"}
        )
    calls: list[str] = []
    workers = [
        TimerWorker(store, {KIND: check_in_due_handler(calls)}, owner=f"replica-{i}", lease_seconds=30)
        for i in range(2)
    ]

    fired = await asyncio.gather(*(worker.fire_due() for worker in workers))

    assert sum(fired) == 20
    assert sorted(calls) == sorted(ids), "no timer's handler ran twice"
    timers = await mongo_db["timers_done"].find({}).to_list()
    assert {t["status"] for t in timers} == {"fired"} and all(len(t[OUTBOX]) == 1 for t in timers)
    assert await mongo_db["timers"].count_documents({}) == 0, "fired timers left the swept collection"


async def test_one_worker_fires_due_timers_side_by_side_so_a_slow_provider_holds_back_no_other(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = timer_store(mongo_db)
    await store.ensure_indexes()
    ids = [f"ci-together-{i}" for i in range(4)]
    for timer_id in ids:
        await store.schedule(timer_id, KIND, datetime.now(UTC) - timedelta(seconds=1), {"n": timer_id})
    # Each handler waits for all four to be in flight: fired one after another, none would finish.
    all_in_flight = asyncio.Barrier(len(ids))
    fired_ids: list[str] = []

    async def provider_call(timer: Timer) -> Sequence[OutgoingEvent]:
        await asyncio.wait_for(all_in_flight.wait(), timeout=10)
        fired_ids.append(timer.id)
        return []

    worker = TimerWorker(store, {KIND: provider_call}, owner="replica", concurrency=len(ids))

    assert await worker.fire_due() == len(ids)
    assert sorted(fired_ids) == sorted(ids)
    assert {t["status"] for t in await mongo_db["timers_done"].find({}).to_list()} == {"fired"}


async def test_timer_of_a_worker_that_died_is_fired_after_its_lease_expires(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = timer_store(mongo_db)
    await store.ensure_indexes()
    due = datetime.now(UTC) - timedelta(seconds=1)
    await store.schedule("ci-orphan", KIND, due, {"check_in_id": "ci-orphan", "client_id": "c-1"})
    claimed = await store.claim_due("dead-replica", datetime.now(UTC), timedelta(seconds=1.5))
    assert claimed is not None  # ... and the replica dies here, never completing

    calls: list[str] = []
    survivor = TimerWorker(store, {KIND: check_in_due_handler(calls)}, owner="survivor", lease_seconds=30)
    assert await survivor.fire_due() == 0, "the lease still protects the timer"
    await asyncio.sleep(1.6)
    assert await survivor.fire_due() == 1

    timer = await mongo_db["timers_done"].find_one({"_id": "ci-orphan"})
    assert timer is not None and timer["status"] == "fired" and timer["attempts"] == 2
    assert list(timer[OUTBOX]) == [claimed.timer.event_id("check-in-due")]


async def test_late_completion_by_a_worker_that_lost_its_lease_changes_nothing(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = timer_store(mongo_db)
    await store.ensure_indexes()
    await store.schedule(
        "ci-slow",
        KIND,
        datetime.now(UTC) - timedelta(seconds=1),
        {"check_in_id": "ci-slow", "client_id": "c-1"},
    )
    slow = await store.claim_due("slow", datetime.now(UTC), timedelta(milliseconds=200))
    await asyncio.sleep(0.3)  # the slow worker stalls past its lease
    fast = await store.claim_due("fast", datetime.now(UTC), timedelta(seconds=30))
    assert slow is not None and fast is not None
    assert await store.complete(slow, [], datetime.now(UTC)) is False
    assert await store.complete(fast, [], datetime.now(UTC)) is True


async def test_a_cancelled_timer_never_fires_and_a_fired_one_cannot_be_moved(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = timer_store(mongo_db)
    await store.ensure_indexes()
    past = datetime.now(UTC) - timedelta(seconds=1)
    await store.schedule("ci-cancelled", KIND, past, {"check_in_id": "ci-cancelled", "client_id": "c-1"})
    await store.schedule("ci-fired", KIND, past, {"check_in_id": "ci-fired", "client_id": "c-1"})
    assert await store.cancel("ci-cancelled", owner="scheduling") is True
    calls: list[str] = []
    assert await TimerWorker(store, {KIND: check_in_due_handler(calls)}, owner="w").fire_due() == 1
    assert calls == ["ci-fired"]
    assert (
        await store.reschedule("ci-fired", datetime.now(UTC) + timedelta(days=1), owner="scheduling") is False
    )


async def test_timer_survives_a_restart_and_fires_its_event_with_a_deterministic_id(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    calls: list[str] = []
    handlers = {KIND: check_in_due_handler(calls)}
    before = build_runtime(
        kafka_settings,
        mongo_settings,
        mongo_db.name,
        timer_handlers=handlers,
        produces=[spec_for(CheckInDue)],
    )
    await before.start()
    due = datetime.now(UTC) + timedelta(seconds=2)
    await before.timers.schedule("ci-restart", KIND, due, {"check_in_id": "ci-restart", "client_id": "c-9"})
    await before.stop()  # the service goes down before the timer is due

    after = build_runtime(
        kafka_settings,
        mongo_settings,
        mongo_db.name,
        timer_handlers=handlers,
        produces=[spec_for(CheckInDue)],
    )
    await after.start()
    try:
        records = await read_records(
            kafka_settings, kafka_settings.topic("check-in-due"), expect=1, settle=1.0
        )
    finally:
        await after.stop()
    expected_id = Timer(
        id="ci-restart", kind=KIND, due_at=due.replace(microsecond=due.microsecond // 1000 * 1000), attempts=1
    ).event_id("check-in-due")
    assert calls == ["ci-restart"]
    assert [dict(r.headers)["ce_id"].decode() for r in records] == [expected_id]
    assert records[0].key == b"c-9"


async def test_a_worker_fires_the_timers_its_replica_scheduled_from_memory_and_others_after_a_sweep(
    mongo_db: AsyncDatabase[Any],
) -> None:
    locks = Locks(mongo_db["locks"])
    here = TimerStore(mongo_db["timers"], locks, owner="here")
    elsewhere = TimerStore(mongo_db["timers"], locks, owner="elsewhere")
    await here.ensure_indexes()
    past = datetime.now(UTC) - timedelta(seconds=1)
    await here.schedule("ci-mine", KIND, past, {"check_in_id": "ci-mine", "client_id": "c-1"})
    await elsewhere.schedule("ci-theirs", KIND, past, {"check_in_id": "ci-theirs", "client_id": "c-2"})
    calls: list[str] = []
    worker = TimerWorker(here, {KIND: check_in_due_handler(calls)}, owner="here")

    assert await worker.fire_due(sweep=False) == 1
    assert calls == ["ci-mine"], "only what this replica scheduled is known without a query"
    assert await worker.fire_due(sweep=True) == 1
    assert calls == ["ci-mine", "ci-theirs"]
    assert await worker.fire_due(sweep=True) == 0, "fired timers are forgotten, not fired again"


async def test_a_timer_beyond_the_lookahead_is_not_held_in_memory_until_a_sweep_sees_it_coming(
    mongo_db: AsyncDatabase[Any],
) -> None:
    now = datetime.now(UTC)
    clock = [now]
    store = TimerStore(
        mongo_db["timers"], Locks(mongo_db["locks"]), lookahead=timedelta(minutes=2), clock=lambda: clock[0]
    )
    await store.ensure_indexes()
    await store.schedule("ci-far", KIND, now + timedelta(minutes=10))
    await store.schedule("ci-near", KIND, now + timedelta(minutes=1))
    assert store.remembered_due(now + timedelta(hours=1)) == ["ci-near"]

    clock[0] = now + timedelta(minutes=9)
    assert await store.sweep(clock[0]) == 2
    assert store.remembered_due(now + timedelta(hours=1)) == ["ci-near", "ci-far"]


async def test_a_failed_timer_waits_out_its_lease_in_memory_instead_of_being_claimed_every_pass(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = timer_store(mongo_db)
    await store.ensure_indexes()
    await store.schedule("ci-failing", KIND, datetime.now(UTC) - timedelta(seconds=1))
    attempts: list[str] = []

    async def failing(timer: Timer) -> Sequence[OutgoingEvent]:
        attempts.append(timer.id)
        raise ConnectionError("provider down")

    worker = TimerWorker(store, {KIND: failing}, owner="replica", lease_seconds=30)
    assert await worker.fire_due(sweep=False) == 0
    assert await worker.fire_due(sweep=False) == 0
    assert attempts == ["ci-failing"], "retried only once its lease has run out"
    assert store.remembered_due(datetime.now(UTC) + timedelta(seconds=31)) == ["ci-failing"]


async def test_a_stopping_worker_finishes_the_timers_in_hand_and_leaves_the_backlog_pending(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = timer_store(mongo_db)
    await store.ensure_indexes()
    ids = [f"ci-backlog-{i}" for i in range(30)]
    for timer_id in ids:
        await store.schedule(timer_id, KIND, datetime.now(UTC) - timedelta(seconds=1))
    started: list[str] = []

    async def slow_provider(timer: Timer) -> Sequence[OutgoingEvent]:
        started.append(timer.id)
        await asyncio.sleep(0.2)
        return []

    worker = TimerWorker(store, {KIND: slow_provider}, owner="stopping", concurrency=2)
    firing = asyncio.create_task(worker.fire_due())
    while not started:
        await asyncio.sleep(0.01)
    worker.stop()  # SIGTERM: a backlog of 30 must not hold the shutdown

    fired = await asyncio.wait_for(firing, timeout=5)
    assert 1 <= fired < len(ids) and fired == len(started)
    assert await mongo_db["timers_done"].count_documents({"status": "fired"}) == fired
    pending = await mongo_db["timers"].find({}).to_list()
    assert {t["status"] for t in pending} == {"pending"}
    assert len(pending) == len(ids) - fired, "the rest wait for a peer"
    assert await mongo_db["locks"].count_documents({}) == 0, "no lease is left behind"


async def test_a_timer_only_a_cleanly_stopped_replica_remembered_is_fired_by_a_peer_before_a_periodic_sweep(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    calls: list[str] = []

    def replica() -> Any:
        return build_runtime(
            kafka_settings,
            mongo_settings,
            mongo_db.name,
            timer_handlers={KIND: check_in_due_handler(calls)},
            produces=[spec_for(CheckInDue)],
            timer_sweep_interval_seconds=3600,  # only start and a peer's end trigger a sweep
        )

    leaving, staying = replica(), replica()
    await leaving.start()
    await staying.start()
    await asyncio.sleep(1.0)  # both have made their start-up sweep: the timer is not there yet
    try:
        due = datetime.now(UTC) + timedelta(seconds=3)
        await leaving.timers.schedule(
            "ci-handover", KIND, due, {"check_in_id": "ci-handover", "client_id": "c-3"}
        )
        await leaving.stop()  # before it is due: only `leaving` remembered it
        records = await read_records(
            kafka_settings, kafka_settings.topic("check-in-due"), expect=1, timeout=20, settle=0.5
        )
    finally:
        await staying.stop()
    assert calls == ["ci-handover"]
    assert records[0].key == b"c-3"
