"""The measurements of `make bench`; each returns plain figures (JSON-able).

Every measurement runs in its own `Scope` (topics and database of its own, removed
afterwards) and reports the CPU the bench, the broker and the database used during its
measured window. A `Window` can also trace MongoDB and Kafka round trips and run cProfile,
for the profiling runs; the default one only counts CPU.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from shared.events.envelope import Envelope, OutgoingEvent, new_event
from shared.events.models import CheckInDue
from shared.events.registry import spec_for
from shared.messaging.broker import kafka_connection_options
from shared.messaging.subscriptions import Subscription, group_for
from shared.runtime import ServiceRuntime
from shared.storage.documents import Revision
from shared.storage.timers import Timer
from tests.bench.harness import PARTITIONS, Bench, CpuMeter, Document, Scope, wait_for_count, wait_until
from tests.bench.profiling import (
    OWN_QUERY,
    KafkaCalls,
    MongoCommands,
    Profiled,
    python_profile,
    self_time_by_package,
    top_entries,
)

CHECK_IN_DUE = spec_for(CheckInDue)
CLIENTS = 1000
"""Distinct record keys (clients) the events are spread over."""
DEFAULT_BUDGET = 150.0
"""Seconds a throughput measurement may run; past it, the rate is of what was done by then."""

Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


# ------------------------------------------------------------------------------ helpers


def check_in_due(i: int, *, clients: int = CLIENTS, event_id: str | None = None) -> OutgoingEvent:
    data = CheckInDue(
        check_in_id=f"ci-{i:07d}",
        client_id=f"client-{i % clients:05d}",
        therapist_id=f"therapist-{i % 50:03d}",
        due_at=datetime(2031, 1, 6, 9, 0, tzinfo=UTC) + timedelta(hours=i % 500),
        instruments=["phq9", "gad7"],
    )
    return new_event(data, event_id=event_id)  # sent as its producer, as consumers require


def as_record(event: OutgoingEvent) -> Record:
    headers = [(k, v.encode()) for k, v in event.envelope.to_headers().items()]
    return event.key.encode(), event.value(), headers


async def publish_all(scope: Scope, topic: str, records: Sequence[Record]) -> float:
    """Publish `records` (acks=all, idempotent), pipelined; return the seconds it took."""
    producer = scope.producer()
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(topic, value=value, key=key, headers=headers)
            for key, value, headers in records
        ]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


def count_due(current: Document | None, data: CheckInDue) -> Revision:
    """The realistic handler's change: a per-client projection of check-ins due."""
    state = dict(current or {"client_id": data.client_id, "due": 0})
    state["due"] += 1
    state["last_check_in_id"] = data.check_in_id
    state["last_due_at"] = data.due_at
    return Revision(state)


def rate(events: int, seconds: float) -> float:
    return round(events / seconds, 1) if seconds > 0 else 0.0


def distribution_ms(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 3),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


@dataclass
class Window:
    """The measured span: CPU used by each process; with `trace`, round trips; with `profile`, cProfile.

    `open()` and `close()` are plain calls, so a handler can open the window on the first
    record it sees.
    """

    cpu: CpuMeter | None = None
    trace: bool = False
    profile: Path | None = None
    opened_at: float | None = None
    closed_at: float | None = None
    _before: Any = None
    _after: Any = None
    _stack: ExitStack = field(default_factory=ExitStack)
    _commands: MongoCommands | None = None
    _kafka: KafkaCalls | None = None
    _profiled: Profiled | None = None

    def __post_init__(self) -> None:
        if self.trace:
            self._commands = MongoCommands.install()  # before any client to watch exists

    def open(self) -> None:
        if self.opened_at is not None:
            return
        if self._commands is not None:
            self._stack.enter_context(self._commands.recording())
            self._kafka = self._stack.enter_context(KafkaCalls().recording())
        if self.profile is not None:
            self._profiled = self._stack.enter_context(python_profile(self.profile))
        self._before = self.cpu.snapshot() if self.cpu else None
        self.opened_at = time.perf_counter()

    def close(self) -> None:
        if self.opened_at is None or self.closed_at is not None:
            return
        self.closed_at = time.perf_counter()
        self._after = self.cpu.snapshot() if self.cpu else None
        self._stack.close()

    @property
    def seconds(self) -> float:
        if self.opened_at is None or self.closed_at is None:
            raise RuntimeError("the window was never opened and closed")
        return self.closed_at - self.opened_at

    def report(self, done: int) -> dict[str, Any]:
        """Figures of the window; per-event figures divide by `done` (what the window completed)."""
        events = done or None
        report: dict[str, Any] = {}
        if self._before is not None and self._after is not None:
            report["cpu"] = CpuMeter.usage(self._before, self._after, events=events)
        if self._commands is not None:
            report["mongo_round_trips_per_event"] = self._commands.per_event(events)
            report["mongo_round_trips"] = self._commands.summary(events)
        if self._kafka is not None:
            report["kafka_round_trips"] = self._kafka.summary(events)
        if self._profiled is not None and self._profiled.stats is not None:
            stats = self._profiled.stats
            report["python_profile"] = {
                "file": str(self.profile),
                "self_time_by_package": self_time_by_package(stats, events=events),
                "top_cumulative_in_shared": top_entries(
                    stats, sort="cumulative", limit=25, events=events, within="/shared/"
                ),
                "top_cumulative": top_entries(stats, sort="cumulative", limit=30, events=events),
                "top_self": top_entries(stats, sort="tottime", limit=25, events=events),
            }
        return report


# -------------------------------------------------------------------------- bare chain


async def bare_chain(bench: Bench, events: int, *, window: Window | None = None) -> dict[str, Any]:
    """aiokafka producer -> 6 partitions -> one aiokafka consumer -> one insert_one per event.

    No envelope, outbox, inbox or lease: the floor the Carepath pipeline is compared with.
    Measured like the pipeline: the records are published first, then consumed from the
    first record until the last is inserted and committed.
    """
    window = window or Window()
    async with bench.scope("bare") as scope:
        topic = await scope.create_topic("bare")
        records = [as_record(check_in_due(i)) for i in range(events)]
        produce_seconds = await publish_all(scope, topic, records)
        effects = scope.db["effects"]
        consumer = AIOKafkaConsumer(
            topic,
            **kafka_connection_options(scope.kafka),
            group_id=f"{scope.kafka.topic_prefix}bare",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        inserted = 0
        deadline = time.monotonic() + 60 + events / 20
        await consumer.start()
        try:
            while inserted < events:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"bare chain: {inserted} of {events} inserted")
                batch = await consumer.getmany(timeout_ms=500)
                for part in batch.values():
                    for record in part:
                        window.open()
                        document = {"_id": f"{record.partition}-{record.offset}", **json.loads(record.value)}
                        await effects.insert_one(document)
                        inserted += 1
                if batch:
                    await consumer.commit()
            window.close()
        finally:
            await consumer.stop()
        stored = await effects.count_documents({})
    return {
        "events": events,
        "completed": stored == events,
        "handled": stored,
        "produce_seconds": round(produce_seconds, 3),
        "produce_events_per_second": rate(events, produce_seconds),
        "seconds": round(window.seconds, 3),
        "events_per_second": rate(events, window.seconds),
        **window.report(events),
    }


# ---------------------------------------------------------------------- consume pipeline


async def consume_pipeline(
    bench: Bench,
    events: int,
    *,
    consumers_per_topic: int | None = None,
    clients: int = CLIENTS,
    budget_seconds: float = DEFAULT_BUDGET,
    window: Window | None = None,
) -> dict[str, Any]:
    """Pre-published CheckInDue events through a ServiceRuntime subscription.

    The handler makes one `DocumentStore.upsert` with `cause=envelope` per event (a
    per-client projection). Measured from the first record reaching the handler until
    the group has committed every record (handled, inbox recorded, acknowledged), or
    until `budget_seconds` pass (then the rate is of what was committed by then).
    """
    window = window or Window()
    async with bench.scope("pipeline") as scope:
        overrides = {} if consumers_per_topic is None else {"consumers_per_topic": consumers_per_topic}
        settings = scope.settings(**overrides)
        topic = await scope.create_topic(CHECK_IN_DUE.topic)
        await publish_all(scope, topic, [as_record(check_in_due(i, clients=clients)) for i in range(events)])

        runtime = ServiceRuntime(settings)
        store = runtime.documents("check_ins_due", relayed=False)  # a read model: it carries no events
        calls = {"handled": 0}
        last_handled = [0.0]

        async def on_check_in_due(data: CheckInDue, envelope: Envelope) -> None:
            window.open()
            await store.upsert(data.client_id, lambda current: count_due(current, data), cause=envelope)
            calls["handled"] += 1
            last_handled[0] = time.perf_counter()

        runtime.subscribe(Subscription(CheckInDue, on_check_in_due))
        started = time.perf_counter()
        async with scope.watch() as watch, runtime:
            await wait_until(
                lambda: _true(window.opened_at is not None), timeout=60, what="first record handled"
            )
            group = group_for(settings.group_id, spec_for(CheckInDue))
            completed, committed = await wait_for_count(
                lambda: watch.committed(group), events, timeout=budget_seconds
            )
            window.close()
        assert window.opened_at is not None
        projected = sum([doc["due"] async for doc in scope.db["check_ins_due"].find({}, {"due": 1})])
    return {
        "events": events,
        "completed": completed,
        "handled": projected,
        "committed": committed,
        "handler_calls": calls["handled"],
        "consumers_per_topic": settings.consumers_per_topic,
        "first_record_after_start_seconds": round(window.opened_at - started, 3),
        "seconds": round(window.seconds, 3),
        "events_per_second": rate(committed, window.seconds),
        "last_handler_done_seconds": round(last_handled[0] - window.opened_at, 3),
        **window.report(committed),
    }


async def _true(value: bool) -> bool:
    return value


async def _at_least(count: Any, target: int) -> bool:
    return bool(await count >= target)


# -------------------------------------------------------------------------------- relay


async def relay(
    bench: Bench,
    events: int,
    *,
    live: bool = False,
    budget_seconds: float = DEFAULT_BUDGET,
    window: Window | None = None,
) -> dict[str, Any]:
    """N documents, each inserted with one outbox event through a DocumentStore, then relayed.

    By default the inserts happen before the runtime starts (not timed) and the
    publication is timed from the runtime's start until every record is on the topic
    (`seconds`; `cleared_seconds` until every outbox is empty too), or until
    `budget_seconds` pass (then the rate is of what reached the topic by then).
    With `live`, the runtime runs first and the window spans the inserts (16 at a time)
    and their relaying together: the relay's steady state, without a start-up sweep.
    """
    window = window or Window()
    async with bench.scope("relay") as scope:
        topic = await scope.create_topic(CHECK_IN_DUE.topic)
        runtime = ServiceRuntime(scope.settings())
        referrals = runtime.documents("referrals")
        runtime.produces(CheckInDue)
        seeding = asyncio.Semaphore(16)

        async def insert(i: int) -> None:
            event = check_in_due(i)
            async with seeding:
                await referrals.insert({"_id": f"r{i:07d}", "client_id": event.key}, [event])

        async def insert_all() -> float:
            started = time.perf_counter()
            await asyncio.gather(*(insert(i) for i in range(events)))
            return time.perf_counter() - started

        collection = scope.db["referrals"]

        async def outboxes_empty() -> bool:
            return await collection.find_one({"_outbox_pending": {"$gt": 0}}, {"_id": 1}) is None

        seed_seconds = 0.0 if live else await insert_all()
        cleared_at: float | None = None
        async with scope.watch() as watch:
            start_called = time.perf_counter()
            await runtime.start()
            start_seconds = time.perf_counter() - start_called
            try:
                if live:
                    await asyncio.sleep(1.0)  # the start-up sweep of the empty collection
                window.open()
                if live:
                    seed_seconds = await insert_all()
                completed, on_topic = await wait_for_count(
                    lambda: watch.records_on(topic), events, timeout=budget_seconds
                )
                window.close()
                if completed:
                    cleared_at = await wait_until(
                        outboxes_empty, timeout=120, interval=0.1, what="every outbox empty"
                    )
            finally:
                await runtime.stop()
            records = await watch.records_on(topic)
        assert window.opened_at is not None
    return {
        "events": events,
        "mode": "live inserts" if live else "inserted before start",
        "completed": completed,
        "handled": records,
        "insert_seconds": round(seed_seconds, 2),
        "runtime_start_seconds": round(start_seconds, 3),
        "seconds": round(window.seconds, 3),
        "cleared_seconds": None if cleared_at is None else round(cleared_at - window.opened_at, 3),
        "events_per_second": rate(on_topic, window.seconds),
        **window.report(on_topic),
    }


# ----------------------------------------------------------------------- per-update cost


async def update_cost(
    bench: Bench,
    sizes: Sequence[int],
    *,
    updates: int = 300,
    warmup: int = 20,
    cpu: CpuMeter | None = None,
) -> dict[str, Any]:
    """Time `DocumentStore.update` by `_id` in collections of `sizes` documents.

    Collections are seeded with `insert_many` through the bench's own client (setup);
    the measured updates go through the store, interleaved across the sizes (one update
    per size in turn) so that every size meets the same load on a shared machine. The
    stores carry no events (`relayed=False`), so no relay sweep lands in the measurement;
    what one sweep query would cost at each size is reported beside
    (`relay_candidate_query_ms`: the query a relayed collection's sweep makes).
    """
    MongoCommands.install()  # before the runtime's client exists, so its round trips are seen
    async with bench.scope("updates") as scope:
        runtime = ServiceRuntime(scope.settings())
        stores = {size: runtime.documents(f"docs_{size}", relayed=False) for size in sizes}

        def bump(current: Document) -> Revision:
            return Revision({**current, "n": current["n"] + 1, "touched_at": datetime.now(UTC)})

        randomly = random.Random(7)  # sampling ids, not cryptography
        samples: dict[int, list[float]] = {size: [] for size in sizes}
        window = Window(cpu=cpu, trace=True)
        async with runtime:
            seeded = {size: await _seed(scope, f"docs_{size}", size) for size in sizes}
            for size in sizes:
                for _ in range(warmup):
                    await stores[size].update(f"d{randomly.randrange(size):07d}", bump)
            window.open()
            for _ in range(updates):
                for size in sizes:
                    document_id = f"d{randomly.randrange(size):07d}"
                    started = time.perf_counter()
                    updated = await stores[size].update(document_id, bump)
                    samples[size].append(time.perf_counter() - started)
                    assert updated is not None
            window.close()
            relay_query = {size: await _relay_candidate_query(scope, f"docs_{size}") for size in sizes}
        report = window.report(updates * len(sizes))
    trips = report.pop("mongo_round_trips", [])
    report.pop("mongo_round_trips_per_event", None)
    shared_trips = [t for t in trips if not t["target"].startswith("docs_")]
    rows: dict[str, Any] = {}
    for size in sizes:
        own = [t for t in trips if t["target"].split(" ")[0] == f"docs_{size}"]
        count = sum(t["count"] for t in own) + sum(t["count"] for t in shared_trips) / len(sizes)
        rows[str(size)] = {
            "documents": size,
            "updates": len(samples[size]),
            "seed_seconds": round(seeded[size], 2),
            **distribution_ms(samples[size]),
            "mongo_round_trips_per_event": round(count / max(1, len(samples[size])), 2),
            "document_round_trips": own,
            "relay_candidate_query_ms": relay_query[size],
        }
    return {"by_size": rows, "lease_and_other_round_trips": shared_trips, **report}


async def _seed(scope: Scope, collection: str, size: int) -> float:
    """Insert `size` documents shaped like a store's, 1,000 per insert_many; return the seconds."""
    started = time.perf_counter()
    for first in range(0, size, 1000):
        await scope.db[collection].insert_many(
            [
                {
                    "_id": f"d{i:07d}",
                    "client_id": f"client-{i:07d}",
                    "status": "open",
                    "n": 0,
                    "_outbox": {},
                    "_outbox_pending": 0,
                    "_causes": [],
                }
                for i in range(first, min(size, first + 1000))
            ],
            ordered=False,
        )
    return time.perf_counter() - started


async def _relay_candidate_query(scope: Scope, collection: str, repeats: int = 3) -> float:
    """What one relay sweep of a collection with nothing pending costs: the sweep's query (median ms).

    The same filter the relay's sweep uses (`_outbox_pending > 0`): FerretDB cannot serve
    it from the index, so it reads every document of the collection.
    """
    samples: list[float] = []
    while len(samples) < repeats:
        started = time.perf_counter()
        cursor = scope.db[collection].find({"_outbox_pending": {"$gt": 0}}, {"_id": 1}, batch_size=256)
        _ = [document async for document in cursor]
        samples.append(time.perf_counter() - started)
        if samples[-1] > 1.0:
            break  # slow enough that one sample tells
    return round(statistics.median(samples) * 1000, 2)


# ------------------------------------------------------------------- steady-state latency


async def steady_latency(
    bench: Bench, events: int = 100, *, per_second: float = 5.0, settle_seconds: float = 3.0
) -> dict[str, Any]:
    """Write-to-handled latency at a steady rate: store.insert with an event -> relay -> Kafka
    -> another runtime's subscription -> its upsert. Latency is handler done minus event time.
    """
    async with bench.scope("latency") as scope:
        consumer = ServiceRuntime(scope.settings())
        projections = consumer.documents("check_ins_due", relayed=False)
        latencies: list[float] = []

        async def on_check_in_due(data: CheckInDue, envelope: Envelope) -> None:
            await projections.upsert(data.client_id, lambda current: count_due(current, data), cause=envelope)
            latencies.append((datetime.now(UTC) - envelope.time).total_seconds())

        consumer.subscribe(Subscription(CheckInDue, on_check_in_due))
        producer = ServiceRuntime(scope.settings())
        referrals = producer.documents("referrals")
        producer.produces(CheckInDue)
        async with consumer, producer:
            await wait_until(
                lambda: _true(len(consumer.assigned_partitions()) >= PARTITIONS),
                timeout=60,
                what="partitions assigned",
            )
            await asyncio.sleep(settle_seconds)  # let the group's members settle
            started = time.perf_counter()
            for i in range(events):
                await asyncio.sleep(max(0.0, started + i / per_second - time.perf_counter()))
                event = check_in_due(i)
                await referrals.insert({"_id": f"r{i:07d}", "client_id": event.key}, [event])
            await wait_until(
                lambda: _true(len(latencies) >= events), timeout=60, what=f"{events} events handled"
            )
            elapsed = time.perf_counter() - started
    return {
        "events": events,
        "handled": len(latencies),
        "offered_per_second": per_second,
        "seconds": round(elapsed, 2),
        "latency": distribution_ms(latencies),
    }


# ------------------------------------------------------------------------------- timers


async def timers_fired(
    bench: Bench, timers: int = 500, *, budget_seconds: float = DEFAULT_BUDGET, cpu: CpuMeter | None = None
) -> dict[str, Any]:
    """Due timers claimed and fired by one runtime's timer worker (their events go out too)."""
    window = Window(cpu=cpu, trace=True)
    async with bench.scope("timers") as scope:
        runtime = ServiceRuntime(scope.settings())
        fired = {"n": 0}

        async def fire(timer: Timer) -> Sequence[OutgoingEvent]:
            fired["n"] += 1
            return [check_in_due(int(timer.id[1:]), event_id=timer.event_id())]

        runtime.on_timer("check-in", fire)
        runtime.produces(CheckInDue)
        due = datetime.now(UTC) - timedelta(seconds=5)
        scheduling = asyncio.Semaphore(16)

        async def schedule(i: int) -> None:
            async with scheduling:
                await runtime.timers.schedule(f"t{i:07d}", "check-in", due, {"n": i})

        await asyncio.gather(*(schedule(i) for i in range(timers)))
        timer_documents = scope.db["timers_done"]  # where fired timers go

        async def fired_count() -> int:
            return await timer_documents.count_documents({"status": "fired"}, comment=OWN_QUERY)

        async with runtime:
            window.open()
            completed, done = await wait_for_count(fired_count, timers, timeout=budget_seconds, interval=0.1)
            window.close()
    return {
        "timers": timers,
        "completed": completed,
        "handled": done,
        "handler_calls": fired["n"],
        "seconds": round(window.seconds, 3),
        "timers_per_second": rate(done, window.seconds),
        "mode": "scheduled before start, all due",
        **window.report(timers),
    }
