"""Finished timers leave the collection the due-sweep reads: cost grows with pending work, not history."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.events.envelope import OutgoingEvent, new_event
from shared.events.models import CheckInDue
from shared.storage.locks import Locks
from shared.storage.outbox import OUTBOX, OUTBOX_PENDING
from shared.storage.timers import MoveFailed, Planned, Timer, TimerStore, TimerWorker
from tests.support.round_trips import RoundTrips

KIND = "check-in"


def counting_handler(calls: list[str]) -> Any:
    async def fire(timer: Timer) -> Sequence[OutgoingEvent]:
        calls.append(timer.id)
        data = CheckInDue(
            check_in_id=timer.id,
            client_id="c-1",
            therapist_id="therapist-1",
            due_at=timer.due_at,
            instruments=["phq9"],
        )
        return [new_event(data, source="scheduling", event_id=timer.event_id("check-in-due"))]

    return fire


class DiesBeforeItsDelete:
    """The pending collection of a replica that dies between a timer's done-insert and its delete."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def bulk_write(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the replica died here")


def past() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=1)


async def test_scheduling_costs_two_round_trips_and_a_firing_five(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    store = TimerStore(db["timers"], Locks(db["locks"]))
    await store.ensure_indexes()
    round_trips.seen.clear()

    await store.schedule("ci-counted", KIND, past())
    assert round_trips.seen == {("find", "timers_done"): 1, ("insert", "timers"): 1}
    round_trips.seen.clear()

    assert await TimerWorker(store, {KIND: counting_handler([])}, owner="replica").fire_due(sweep=False) == 1
    assert round_trips.seen == {
        ("insert", "locks"): 1,  # the lease
        ("findAndModify", "timers"): 1,  # read it, count the attempt
        ("insert", "timers_done"): 1,  # the move, with its events
        ("delete", "timers"): 1,
        ("delete", "locks"): 1,  # the lease given back
    }


async def test_timers_of_a_subject_just_created_are_scheduled_together_in_one_round_trip(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    store = TimerStore(db["timers"], Locks(db["locks"]))
    await store.ensure_indexes()
    round_trips.seen.clear()
    due = datetime.now(UTC) + timedelta(hours=1)

    created = await store.schedule_many(
        [Planned("reminder:s-1:24h", KIND, due), Planned("reminder:s-1:1h", KIND, due)], first_time=True
    )

    assert created == {"reminder:s-1:24h", "reminder:s-1:1h"}
    assert round_trips.seen == {("insert", "timers"): 1}
    again = await store.schedule_many(
        [Planned("reminder:s-1:24h", KIND, due), Planned("reminder:s-1:new", KIND, due)]
    )
    assert again == {"reminder:s-1:new"}  # scheduling stays idempotent by id


async def test_scheduling_many_without_first_time_never_brings_back_a_fired_timer(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = TimerStore(mongo_db["timers"], Locks(mongo_db["locks"]))
    await store.schedule("ci-gone", KIND, past())
    assert await TimerWorker(store, {KIND: counting_handler([])}, owner="replica").fire_due(sweep=False) == 1

    created = await store.schedule_many([Planned("ci-gone", KIND, past()), Planned("ci-next", KIND, past())])

    assert created == {"ci-next"}
    assert await mongo_db["timers"].find_one({"_id": "ci-gone"}) is None


async def test_a_burst_of_firings_shares_the_moves_round_trips(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    store = TimerStore(db["timers"], Locks(db["locks"]))
    await store.ensure_indexes()
    ids = [f"ci-burst-{i}" for i in range(10)]
    for timer_id in ids:
        await store.schedule(timer_id, KIND, past())
    all_in_flight = asyncio.Barrier(len(ids))

    async def together(timer: Timer) -> Sequence[OutgoingEvent]:
        await asyncio.wait_for(all_in_flight.wait(), timeout=10)
        return []

    round_trips.seen.clear()
    worker = TimerWorker(store, {KIND: together}, owner="replica", concurrency=len(ids))
    assert await worker.fire_due(sweep=False) == len(ids)

    # The first move goes alone; the nine that finish while it is written go as one group.
    assert round_trips.seen[("insert", "timers_done")] == 2
    assert round_trips.seen[("delete", "timers")] == 2
    assert sum(round_trips.seen.values()) <= 4 * len(ids)
    assert await db["timers"].count_documents({}) == 0
    assert await db["timers_done"].count_documents({"status": "fired"}) == len(ids)


async def test_a_fired_timer_leaves_the_swept_collection_and_its_id_is_never_fired_or_scheduled_again(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = TimerStore(mongo_db["timers"], Locks(mongo_db["locks"]))
    await store.ensure_indexes()
    await store.schedule("ci-once", KIND, past())
    calls: list[str] = []
    worker = TimerWorker(store, {KIND: counting_handler(calls)}, owner="replica")

    assert await worker.fire_due() == 1
    assert await mongo_db["timers"].count_documents({}) == 0
    done = await mongo_db["timers_done"].find_one({"_id": "ci-once"})
    assert done is not None and done["status"] == "fired" and done["attempts"] == 1
    assert len(done[OUTBOX]) == 1, "its events wait in its done copy for the relay"

    assert await store.schedule("ci-once", KIND, past()) is False
    assert await store.reschedule("ci-once", past()) is False
    assert await store.cancel("ci-once") is False
    assert await worker.fire_due() == 0
    assert calls == ["ci-once"]
    assert await mongo_db["timers"].count_documents({}) == 0


async def test_a_cancelled_timer_is_kept_as_done_so_its_id_cannot_be_scheduled_again(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = TimerStore(mongo_db["timers"], Locks(mongo_db["locks"]))
    await store.ensure_indexes()
    await store.schedule("ci-cancel", KIND, past())

    assert await store.cancel("ci-cancel") is True
    assert await mongo_db["timers"].count_documents({}) == 0
    done = await mongo_db["timers_done"].find_one({"_id": "ci-cancel"})
    assert done is not None and done["status"] == "cancelled" and done[OUTBOX_PENDING] == 0
    assert await store.schedule("ci-cancel", KIND, past()) is False


async def test_history_does_not_grow_what_the_due_query_reads(mongo_db: AsyncDatabase[Any]) -> None:
    store = TimerStore(mongo_db["timers"], Locks(mongo_db["locks"]))
    await store.ensure_indexes()
    for i in range(20):
        await store.schedule(f"ci-history-{i}", KIND, past())
    calls: list[str] = []
    assert await TimerWorker(store, {KIND: counting_handler(calls)}, owner="replica").fire_due() == 20
    later = datetime.now(UTC) + timedelta(seconds=30)
    await store.schedule("ci-coming", KIND, later)

    assert await mongo_db["timers_done"].count_documents({}) == 20
    assert await mongo_db["timers"].count_documents({}) == 1, "the swept collection holds pending work only"
    assert await store.sweep(datetime.now(UTC)) == 1
    assert await store.due_ids(later) == ["ci-coming"]


async def test_a_crash_between_the_done_insert_and_the_pending_delete_fires_nothing_twice(
    mongo_db: AsyncDatabase[Any],
) -> None:
    dying = TimerStore(
        cast(Any, DiesBeforeItsDelete(mongo_db["timers"])),
        Locks(mongo_db["locks"]),
        done=mongo_db["timers_done"],
    )
    await dying.ensure_indexes()
    for timer_id in ("ci-crash", "ci-crash-moved"):
        await dying.schedule(timer_id, KIND, past())
    calls: list[str] = []
    with pytest.raises(MoveFailed):
        await TimerWorker(dying, {KIND: counting_handler(calls)}, owner="dying").fire_due(sweep=False)
    assert sorted(calls) == ["ci-crash", "ci-crash-moved"]
    assert await mongo_db["timers"].count_documents({}) == 2, "both left a pending copy behind"

    # A peer, once the dead replica's leases have run out (its lock clock is past them).
    later = datetime.now(UTC) + timedelta(minutes=5)
    survivor = TimerStore(mongo_db["timers"], Locks(mongo_db["locks"], clock=lambda: later))
    assert await survivor.reschedule("ci-crash-moved", datetime.now(UTC), owner="survivor") is False
    assert await TimerWorker(survivor, {KIND: counting_handler(calls)}, owner="survivor").fire_due() == 0

    assert sorted(calls) == ["ci-crash", "ci-crash-moved"], "no handler ran twice"
    assert await mongo_db["timers"].count_documents({}) == 0, "the moves were finished"
    done = await mongo_db["timers_done"].find({}).to_list()
    assert {d["status"] for d in done} == {"fired"} and all(len(d[OUTBOX]) == 1 for d in done)
    assert await survivor.schedule("ci-crash", KIND, past()) is False


async def test_old_done_timers_are_pruned_unless_their_events_still_wait(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = TimerStore(mongo_db["timers"], Locks(mongo_db["locks"]))
    await store.ensure_indexes()
    await store.schedule("ci-quiet", KIND, past())
    await store.schedule("ci-unsent", KIND, past())
    await store.cancel("ci-quiet")
    assert await TimerWorker(store, {KIND: counting_handler([])}, owner="replica").fire_due() == 1

    assert await store.prune(datetime.now(UTC) - timedelta(days=1)) == 0, "within the retention"
    assert await store.prune(datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert [d["_id"] for d in await mongo_db["timers_done"].find({}).to_list()] == ["ci-unsent"]


async def test_timers_an_earlier_version_left_finished_in_place_are_moved_out_at_start(
    mongo_db: AsyncDatabase[Any],
) -> None:
    fired_at = datetime(2026, 1, 5, tzinfo=UTC)
    await mongo_db["timers"].insert_many(
        [
            {"_id": "old-fired", "kind": KIND, "due_at": fired_at, "status": "fired", "attempts": 1},
            {"_id": "old-pending", "kind": KIND, "due_at": fired_at, "status": "pending", "attempts": 0},
        ]
    )
    store = TimerStore(mongo_db["timers"], Locks(mongo_db["locks"]))

    await store.ensure_indexes()

    assert [t["_id"] for t in await mongo_db["timers"].find({}).to_list()] == ["old-pending"]
    moved = await mongo_db["timers_done"].find_one({"_id": "old-fired"})
    assert moved is not None and moved["status"] == "fired" and moved[OUTBOX_PENDING] == 0
    assert await store.schedule("old-fired", KIND, fired_at) is False
