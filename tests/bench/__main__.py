"""`make bench`: throughput and latency of the shared plumbing on real Kafka and MongoDB.

Measures, each on fresh topics and a fresh database:
- outbox relay: documents with a pending event, published and marked sent, per second;
- consume pipeline: events handled per second through envelope parsing, schema
  validation, inbox check, a one-write handler and the inbox record, when events are
  written as fast as possible (latency then is mostly queueing); and the write-to-handled
  latency (outbox -> relay -> Kafka -> consumer) at a steady 5 events per second;
- durable timers: due timers claimed and fired per second by one worker.

Results print as a table and are written to bench-results/plumbing.json. Sizes are set by
BENCH_EVENTS (default 2000) and BENCH_TIMERS (default 500).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient

from shared.events.envelope import Envelope, OutgoingEvent, new_event
from shared.events.models import CheckInDue
from shared.events.registry import spec_for
from shared.messaging.subscriptions import Subscription
from shared.observability.logs import configure_logging
from shared.settings import KafkaSettings, MongoSettings
from shared.storage.locks import Locks
from shared.storage.outbox import PENDING, with_outbox
from shared.storage.timers import Timer, TimerStore, TimerWorker
from tests.support.infrastructure import REPO, provide
from tests.support.kafka import check_in_due
from tests.support.runtime import build_runtime

EVENTS = int(os.environ.get("BENCH_EVENTS", "2000"))
TIMERS = int(os.environ.get("BENCH_TIMERS", "500"))
CHECK_IN_DUE = spec_for(CheckInDue)


def fresh(infra: Any) -> tuple[KafkaSettings, MongoSettings, str]:
    prefix = f"bench{uuid.uuid4().hex[:8]}-"
    return (
        KafkaSettings(bootstrap_servers=infra.kafka_bootstrap_servers, topic_prefix=prefix),
        MongoSettings(uri=infra.mongodb_uri),
        f"bench_{uuid.uuid4().hex[:8]}",
    )


async def bench_outbox_relay(infra: Any) -> dict[str, float]:
    kafka, mongo, db_name = fresh(infra)
    runtime = build_runtime(kafka, mongo, db_name, produces=[CHECK_IN_DUE], outbox_collections=["docs"])
    docs = runtime.db["docs"]
    await docs.insert_many(
        [
            with_outbox({"_id": f"d{i}"}, [new_event(check_in_due(f"client-{i}"), source="bench")])
            for i in range(EVENTS)
        ]
    )
    await runtime.start()
    started = time.perf_counter()
    while await docs.count_documents({PENDING: {"$gt": 0}}) > 0:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    await runtime.mongo.drop_database(db_name)
    await runtime.stop()
    return {"events": EVENTS, "seconds": round(elapsed, 2), "events_per_second": round(EVENTS / elapsed, 1)}


async def bench_consume_pipeline(
    infra: Any, *, count: int = EVENTS, per_second: float | None = None
) -> dict[str, float | str]:
    """Write `count` events through the outbox (at `per_second`, or as fast as possible)."""
    kafka, mongo, db_name = fresh(infra)
    latencies: list[float] = []
    done = asyncio.Event()
    counter = {"n": 0}
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    effects = client[db_name]["effects"]

    async def on_check_in_due(data: CheckInDue, envelope: Envelope) -> None:
        await effects.update_one({"_id": data.check_in_id}, {"$inc": {"n": 1}}, upsert=True)
        latencies.append((datetime.now(UTC) - envelope.time).total_seconds())
        counter["n"] += 1
        if counter["n"] == count:
            done.set()

    producer = build_runtime(kafka, mongo, db_name, produces=[CHECK_IN_DUE], outbox_collections=["docs"])
    consumer = build_runtime(kafka, mongo, db_name, subscriptions=[Subscription(CheckInDue, on_check_in_due)])
    await consumer.start()
    await producer.start()
    started = time.perf_counter()
    docs = producer.db["docs"]
    for i in range(count):
        outgoing: Sequence[OutgoingEvent] = [
            new_event(check_in_due(f"client-{i % 200}", check_in_id=f"ci-{i}"), source="bench")
        ]
        await docs.insert_one(with_outbox({"_id": f"d{i}"}, outgoing))
        producer.relay.notify()
        if per_second:
            await asyncio.sleep(1 / per_second)
    await asyncio.wait_for(done.wait(), timeout=600)
    elapsed = time.perf_counter() - started
    await producer.stop()
    await consumer.stop()
    await client.drop_database(db_name)
    await client.close()
    latencies.sort()
    return {
        "events": count,
        "offered_per_second": per_second or "unpaced",
        "seconds": round(elapsed, 2),
        "events_per_second": round(count / elapsed, 1),
        "latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "latency_p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
        "latency_max_ms": round(latencies[-1] * 1000, 1),
    }


async def bench_timers(infra: Any) -> dict[str, float]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    db_name = f"bench_{uuid.uuid4().hex[:8]}"
    store = TimerStore(client[db_name]["timers"], Locks(client[db_name]["locks"]))
    await store.ensure_indexes()
    due = datetime.now(UTC) - timedelta(seconds=1)
    for i in range(TIMERS):
        await store.schedule(f"t{i}", "check-in", due, {"client_id": f"client-{i}"})

    async def fire(timer: Timer) -> Sequence[OutgoingEvent]:
        data = CheckInDue(
            check_in_id=timer.id,
            client_id=str(timer.payload["client_id"]),
            therapist_id="t-1",
            due_at=timer.due_at,
            instruments=["phq9"],
        )
        return [new_event(data, source="bench", event_id=timer.event_id())]

    worker = TimerWorker(store, {"check-in": fire}, owner="bench")
    started = time.perf_counter()
    fired = await worker.fire_due()
    elapsed = time.perf_counter() - started
    await client.drop_database(db_name)
    await client.close()
    return {"timers": fired, "seconds": round(elapsed, 2), "timers_per_second": round(fired / elapsed, 1)}


async def main() -> None:
    configure_logging("bench", level="WARNING")
    infra = provide()
    try:
        results = {
            "outbox_relay": await bench_outbox_relay(infra),
            "consume_pipeline_end_to_end": await bench_consume_pipeline(infra),
            "latency_at_5_events_per_second": await bench_consume_pipeline(infra, count=100, per_second=5),
            "durable_timers": await bench_timers(infra),
        }
    finally:
        infra.stop()
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "infrastructure": infra.origin,
        "results": results,
    }
    out = REPO / "bench-results" / "plumbing.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    for name, figures in results.items():
        print(f"{name:<30} " + "  ".join(f"{k}={v}" for k, v in figures.items()))
    print(f"written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    asyncio.run(main())
