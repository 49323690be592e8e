"""The metrics scrape read after real traffic: the figures an operator's alerts and dashboard rest on.

A throwaway service runs in process on the real broker and database, with the request
metrics middleware and the consumer lag collector wired as a service wires them
(`app.add_middleware(RequestMetrics)`, `ConsumerLag` as a background task). Through it go
HTTP requests (a write whose event it then consumes itself), events one of its consumers
is stuck on, a timer whose handler keeps failing and an outbox entry too large to publish;
each step is checked on the scrape, by route template, by group and partition, in seconds.
The scrape is served as a service process serves it: on a port of its own, not the API's.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pymongo.asynchronous.database import AsyncDatabase

from shared.events.envelope import Envelope, new_event
from shared.events.models import CheckInDue, MatchDeclined
from shared.events.registry import spec_for
from shared.http.app import create_service_app
from shared.http.request_metrics import RequestMetrics
from shared.messaging.broker import kafka_connection_options
from shared.messaging.subscriptions import Subscription, group_for
from shared.observability.lag import ConsumerLag
from shared.refusals import NotFound
from shared.runtime import ServiceRuntime
from shared.settings import KafkaSettings, MongoSettings
from shared.storage.outbox import with_outbox
from shared.storage.timers import Timer
from tests.support.kafka import check_in_due, eventually
from tests.support.metrics_scrape import metrics_listener, scrape
from tests.support.runtime import build_runtime

DUE = spec_for(CheckInDue)
DECLINED = spec_for(MatchDeclined)
ROUTE = "/v1/things/{thing_id}"  # as the service serves it: routers go under /v1
THING = "/things/{thing_id}"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class Consumers:
    """What the service's two consumers saw; the second is stuck until `release` is set."""

    due: list[str] = field(default_factory=list)
    declined: list[str] = field(default_factory=list)
    stuck: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_check_in_due(self, event: CheckInDue, envelope: Envelope) -> None:
        self.due.append(event.check_in_id)

    async def on_match_declined(self, event: MatchDeclined, envelope: Envelope) -> None:
        """Holds its partition (and so its consumer) until released: a consumer stuck on a record."""
        self.stuck.set()
        await self.release.wait()
        self.declined.append(event.match_id)


async def stuck_timer(timer: Timer) -> list[Any]:
    raise RuntimeError("the provider is down")  # retried after its lease, and late all along


def things_router(runtime: ServiceRuntime) -> APIRouter:
    """A resource with an id in its path, and a write that publishes an event."""
    router = APIRouter()
    things = runtime.documents("things")

    @router.post(THING + "/due", status_code=201)
    async def make_due(thing_id: str) -> dict[str, str]:
        event = new_event(check_in_due(check_in_id=thing_id))
        await things.insert({"_id": thing_id}, [event])
        return {"id": thing_id}

    @router.get(THING)
    async def read(thing_id: str) -> dict[str, str]:
        if await things.get(thing_id) is None:
            raise NotFound(f"no thing {thing_id}")
        return {"id": thing_id}

    return router


@dataclass
class Probe:
    app: FastAPI
    http: httpx.AsyncClient
    runtime: ServiceRuntime
    consumers: Consumers
    kafka: KafkaSettings
    database: AsyncDatabase[Any]
    metrics_url: str

    async def scrape(self) -> Samples:
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(await scrape(self.metrics_url))
            for sample in family.samples
        }

    def group(self, spec: Any) -> str:
        return group_for(self.runtime.settings.group_id, spec)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def lag_of(samples: Samples, group: str) -> dict[int, float]:
    return {
        int(dict(labels)["partition"]): v
        for (name, labels), v in samples.items()
        if name == "carepath_consumer_lag" and dict(labels)["group"] == group
    }


@pytest.fixture
async def probe(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> AsyncIterator[Probe]:
    consumers = Consumers()
    runtime = build_runtime(
        kafka_settings,
        mongo_settings,
        mongo_db.name,
        subscriptions=[
            Subscription(CheckInDue, consumers.on_check_in_due),
            Subscription(MatchDeclined, consumers.on_match_declined),
        ],
        produces=[DUE],
        timer_handlers={"stuck": stuck_timer},
        consumers_per_topic=1,  # one consumer per topic: stuck on one record, stuck on all
        relay_sweep_interval_seconds=0.5,  # the relay finds what no write hinted at, soon
    )
    app = create_service_app(runtime, [things_router(runtime)], title="Carepath metrics probe")
    app.add_middleware(RequestMetrics)
    lag = ConsumerLag.of_service(runtime.settings, [DUE, DECLINED], interval_seconds=0.2)
    async with runtime:
        polling = asyncio.create_task(lag.run(), name="consumer-lag")
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
                with metrics_listener() as metrics_url:
                    yield Probe(app, http, runtime, consumers, kafka_settings, mongo_db, metrics_url)
        finally:
            consumers.release.set()
            lag.stop()
            with suppress(asyncio.CancelledError):
                await polling


async def publish_to_partition(kafka: KafkaSettings, partition: int, *events: MatchDeclined) -> None:
    producer = AIOKafkaProducer(**kafka_connection_options(kafka), acks="all")
    await producer.start()
    try:
        for data in events:
            outgoing = new_event(data)
            await producer.send_and_wait(
                kafka.topic(DECLINED.topic),
                value=outgoing.value(),
                key=outgoing.key.encode(),
                partition=partition,
                headers=[(k, v.encode()) for k, v in outgoing.envelope.to_headers().items()],
            )
    finally:
        await producer.stop()


def declined(match_id: str) -> MatchDeclined:
    return MatchDeclined(match_id=match_id, client_id="client-1", declined_at=datetime.now(UTC))


async def test_metrics_after_real_traffic_count_requests_by_route_and_show_lag_timers_and_outbox(
    probe: Probe,
) -> None:
    http = probe.http
    assert (await http.get("/metrics")).status_code == 404  # never on the API port
    before = await probe.scrape()

    # --- HTTP: counted by route template and status, never by the path sent ---------
    assert (await http.post("/v1/things/t-1/due")).status_code == 201
    assert (await http.post("/v1/things/t-2/due")).status_code == 201
    assert [(await http.get(f"/v1/things/{i}")).status_code for i in ("t-1", "t-2", "x-9")] == [200, 200, 404]
    assert (await http.get("/nowhere/abc-123")).status_code == 404
    assert (await http.delete("/v1/things/t-1")).status_code == 405
    after = await probe.scrape()

    def requests(method: str, route: str, status: str, *, of: str = "carepath_http_requests_total") -> float:
        labels = {"method": method, "route": route, "status": status}
        return value(after, of, **labels) - value(before, of, **labels)

    assert requests("POST", ROUTE + "/due", "201") == 2
    assert requests("GET", ROUTE, "200") == 2
    assert requests("GET", ROUTE, "404") == 1
    assert requests("DELETE", ROUTE, "405") == 1
    assert requests("GET", "unmatched", "404") == 1
    assert requests("GET", ROUTE, "200", of="carepath_http_request_duration_seconds_count") == 2
    label_values = {v for (name, labels) in after if name.startswith("carepath_http") for _, v in labels}
    assert not label_values & {"t-1", "t-2", "x-9", "/nowhere/abc-123", "/v1/things/t-1"}

    # --- the writes' events went out through the outbox and were consumed ------------
    async def both_consumed() -> bool:
        return sorted(probe.consumers.due) == ["t-1", "t-2"]

    await eventually(both_consumed)
    published = value(await probe.scrape(), "carepath_events_published_total", topic=DUE.topic)
    assert published >= 2
    # Published at once: the oldest entry the relay saw was well under the alert's minute.
    assert value(await probe.scrape(), "carepath_outbox_oldest_pending_seconds") < 60

    # --- consumer lag, per group and partition --------------------------------------
    async def due_group_caught_up() -> bool:
        lag = lag_of(await probe.scrape(), probe.group(DUE))
        return len(lag) == probe.runtime.settings.kafka.topic_partitions and set(lag.values()) == {0.0}

    await eventually(due_group_caught_up)

    await publish_to_partition(probe.kafka, 0, declined("m-stuck"))
    await asyncio.wait_for(probe.consumers.stuck.wait(), timeout=30)  # holding m-stuck, uncommitted
    await publish_to_partition(probe.kafka, 1, *(declined(f"m-1-{i}") for i in range(3)))
    await publish_to_partition(probe.kafka, 2, *(declined(f"m-2-{i}") for i in range(2)))
    expected = {0: 1.0, 1: 3.0, 2: 2.0, 3: 0.0, 4: 0.0, 5: 0.0}

    async def stuck_group_lags_as_published() -> bool:
        return lag_of(await probe.scrape(), probe.group(DECLINED)) == expected

    await eventually(stuck_group_lags_as_published)
    assert probe.consumers.declined == []

    probe.consumers.release.set()  # consumed late: the lag goes back to nothing

    async def stuck_group_caught_up() -> bool:
        return set(lag_of(await probe.scrape(), probe.group(DECLINED)).values()) == {0.0}

    await eventually(stuck_group_caught_up)
    assert len(probe.consumers.declined) == 6

    # --- timer lag: a timer that keeps failing counts from its due time ---------------
    assert value(await probe.scrape(), "carepath_timer_lag_seconds") == 0
    due_at = datetime.now(UTC) - timedelta(minutes=10)
    await probe.runtime.timers.schedule(f"stuck-{uuid.uuid4().hex[:6]}", "stuck", due_at)

    async def failed_and_late() -> bool:
        samples = await probe.scrape()
        failed = value(samples, "carepath_timer_failures_total", kind="stuck") >= 1
        return failed and value(samples, "carepath_timer_lag_seconds") >= 600

    # Retried after its lease, still counted from its due time. On a busy machine (the suite's
    # two workers, the broker and the database on 2 cores) the first firing alone took ~30 s once.
    await eventually(failed_and_late, timeout=90)
    assert (
        value(await probe.scrape(), "carepath_timer_lag_seconds")
        <= (datetime.now(UTC) - due_at).total_seconds()
    )

    # --- outbox age: an entry the relay cannot publish (larger than a Kafka request) --
    failed_passes = value(await probe.scrape(), "carepath_outbox_publish_failures_total")
    at = datetime.now(UTC) - timedelta(minutes=10)
    oversized = new_event(check_in_due(check_in_id="too-big"), now=at)
    document = with_outbox({"_id": "too-big"}, [oversized])
    document["_outbox"][oversized.envelope.id]["value"] = "x" * 1_500_000
    await probe.database["things"].insert_one(document)  # as a replica that died would leave it

    async def relay_failed_and_gauge_shows_its_age() -> bool:
        samples = await probe.scrape()
        failed = value(samples, "carepath_outbox_publish_failures_total") > failed_passes
        return failed and value(samples, "carepath_outbox_oldest_pending_seconds") >= 600

    # The relay retries a failed pass with backoff (13 s apart once on a loaded machine): 90 s.
    await eventually(relay_failed_and_gauge_shows_its_age, timeout=90)
    assert value(await probe.scrape(), "carepath_outbox_oldest_pending_seconds") <= (
        (datetime.now(UTC) - at).total_seconds()
    )
