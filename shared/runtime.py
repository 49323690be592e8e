"""What one service process runs besides its routes: Kafka, MongoDB, relay, timers, heartbeat.

Each service builds one `ServiceRuntime` in its `app.py` (its single wiring place) and
then registers what it has, all before `start()`:

    runtime = ServiceRuntime(settings)
    intakes = runtime.documents("intakes")          # a store whose outbox is relayed
    runtime.subscribe(Subscription(CheckInDue, on_check_in_due))
    runtime.on_timer("check-in", fire_check_in)
    runtime.produces(IntakeCompleted, RiskFlagged)
    async with runtime: ...                         # or create_service_app(runtime, routers)

The connections are private: services and tests change documents only through the
`DocumentStore`s the runtime hands out, which take the per-document lease.

Start and stop order is what makes shutdown safe: on SIGTERM the timer worker and relay
stop first, then the consumers start no new record, finish the ones in hand and commit, then the heartbeat
is retired and the connections close.

Tracing (`shared/observability/tracing.py`, off unless `OTEL_*` configures an exporter) is
wired here once: FastStream's telemetry middleware on the broker, PyMongo's
instrumentation before the client is made, timers that remember the trace that
scheduled them and fire inside it. The runtime's own bookkeeping (heartbeats, leases,
sweeps, housekeeping) makes no spans: they would be thousands of traces of no journey.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.specification import AsyncAPI
from prometheus_client import REGISTRY
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.background import Pacer
from shared.clock import build_clock, domain_span, speed_of, utc_now
from shared.events.registry import EventSpec, spec_for
from shared.messaging.broker import build_broker
from shared.messaging.consumption import ReliableConsumption, RetryPolicy
from shared.messaging.dead_letters import DeadLetters
from shared.messaging.offsets import OffsetCommitter
from shared.messaging.subscriptions import Subscription, subscribe
from shared.messaging.topics import ensure_topics
from shared.observability.audit import AuditLog
from shared.observability.lag import ConsumerLag
from shared.observability.logs import get_logger
from shared.observability.tracing import (
    broker_telemetry,
    configure_tracing,
    untraced,
)
from shared.ports import Clock
from shared.security.field_encryption import FieldCipher
from shared.settings import ServiceSettings
from shared.storage import Document
from shared.storage.client import connect_mongo, ping_mongo
from shared.storage.documents import DocumentStore
from shared.storage.inbox import Inbox
from shared.storage.liveness import Liveness
from shared.storage.locks import Locks
from shared.storage.outbox import OutboxRelay, PendingEvent, ensure_outbox_index
from shared.storage.timers import TimerHandler, TimerStore, TimerWorker

log = get_logger(__name__)


def instance_id(service: str) -> str:
    """Names this replica in leases, so an operator can tell which replica holds what."""
    return f"{service}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _warn_of_a_demo_clock(clock: Clock, settings: ServiceSettings) -> None:
    if speed_of(clock) != 1.0:
        log.warning(
            "DEMO CLOCK: domain time runs faster than real time; never in production",
            speed=speed_of(clock),
            epoch=settings.clock.epoch.isoformat() if settings.clock.epoch else None,
        )


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        # The domain clock: given (tests), else from DEMO_CLOCK_* (real time unless a demo).
        self.clock = clock or build_clock(settings.clock)
        _warn_of_a_demo_clock(self.clock, settings)
        self.instance = instance_id(settings.service_name)
        # Before the MongoDB client: PyMongo's instrumentation covers clients made after it.
        self.tracer_provider = configure_tracing(settings.service_name, instance=self.instance)
        self._mongo: AsyncMongoClient[Document] = connect_mongo(settings.mongo, app_name=self.instance)
        self._db: AsyncDatabase[Document] = self._mongo[settings.database_name]
        self._liveness = Liveness(
            self._db["replicas"],
            instance=self.instance,
            interval=timedelta(seconds=settings.liveness_interval_seconds),
            timeout=timedelta(seconds=settings.liveness_timeout_seconds),
        )
        self._locks = Locks(
            self._db["locks"],
            liveness=self._liveness,
            linger_seconds=settings.document_lease_linger_seconds,
        )
        self._inbox = Inbox(self._db["inbox"])
        self.audit = AuditLog(self._db["audit"], service=settings.service_name)
        self.timers = TimerStore(
            self._db["timers"],
            self._locks,
            owner=self.instance,
            # Two sweeps ahead: a timer is remembered by a sweep before it is due.
            lookahead=domain_span(self.clock, 2 * settings.timer_sweep_interval_seconds),
            clock=self.clock,
        )
        self._broker: KafkaBroker = build_broker(
            settings.kafka,
            client_id=settings.service_name,
            middlewares=self._observing_middlewares(),
            graceful_timeout=settings.shutdown_grace_seconds,
        )
        self._pipeline = self._consumption_pipeline()
        self._broker.add_middleware(self._pipeline)
        self._subscribed: list[EventSpec] = []
        self._produced: list[EventSpec] = []
        self._outbox_collections: list[str] = ["timers", self.timers.done.name]  # fired timers carry events
        self._stores: dict[str, DocumentStore] = {}
        self._timer_handlers: dict[str, TimerHandler] = {}
        self._relay = self._outbox_relay()
        self._timer_worker = self._timer_worker_of(self._timer_handlers)
        self._housekeeping = Pacer(settings.housekeeping_interval_seconds)
        self._peer_watch = Pacer(settings.liveness_timeout_seconds)
        self._inbox_pruned_at: datetime | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._consumer_lag: ConsumerLag | None = None  # built at start, once subscriptions are known
        self._cipher: FieldCipher | None = None
        self._started = False

    def _observing_middlewares(self) -> list[Any]:
        """Broker middlewares around the consume pipeline, outermost first.

        Telemetry is outermost, so a consume's span covers reading and validating the
        record, and is current in the handler, which runs after it in the record's key lane
        (its writes keep the span's context for the events they cause). A metrics middleware
        (FastStream's Prometheus one) follows it; it times that dispatch, and
        `carepath_handler_seconds` the handling.
        """
        middlewares: list[Any] = []
        if (telemetry := broker_telemetry(self.tracer_provider)) is not None:
            middlewares.append(telemetry)
        # FastStream's own consume and publish metrics (received, processed, duration, sizes),
        # beside Carepath's outcome counters, on the same /metrics.
        middlewares.append(KafkaPrometheusMiddleware(registry=REGISTRY, app_name=self.settings.service_name))
        return middlewares

    def _consumption_pipeline(self) -> ReliableConsumption:
        """Validation, inbox, bounded retries, dead letters: every subscription's middleware."""
        settings = self.settings
        return ReliableConsumption(
            consumer=settings.group_id,
            specs_by_topic={},
            inbox=self._inbox,
            dead_letters=DeadLetters(self._broker, consumer=settings.group_id),
            retry=RetryPolicy(
                max_attempts=settings.retry_max_attempts,
                initial_backoff_seconds=settings.retry_initial_backoff_seconds,
                max_backoff_seconds=settings.retry_max_backoff_seconds,
            ),
            offsets=OffsetCommitter(settings.offset_commit_interval_seconds, before_commit=self._inbox.save),
            in_flight=settings.consumer_in_flight,
        )

    def _outbox_relay(self) -> OutboxRelay:
        """Publishes what writes left in outboxes; collections are added as stores register."""
        settings = self.settings
        return OutboxRelay(
            [],
            self._publish_pending,
            self._locks,
            owner=self.instance,
            lease_seconds=settings.relay_lease_seconds,
            poll_interval_seconds=settings.relay_poll_interval_seconds,
            sweep_interval_seconds=settings.relay_sweep_interval_seconds,
            concurrency=settings.relay_concurrency,
            removal_delay_seconds=settings.relay_removal_delay_seconds,
        )

    def _timer_worker_of(self, handlers: dict[str, TimerHandler]) -> TimerWorker:
        """Fires due timers with the handlers registered by kind (`on_timer`), shared by reference."""
        settings = self.settings
        return TimerWorker(
            self.timers,
            handlers,
            owner=self.instance,
            lease_seconds=settings.timer_lease_seconds,
            poll_interval_seconds=settings.timer_poll_interval_seconds,
            sweep_interval_seconds=settings.timer_sweep_interval_seconds,
            max_attempts=settings.timer_max_attempts,
            concurrency=settings.timer_concurrency,
            on_fired=self._relay.notify,
            clock=self.clock,
        )

    # ------------------------------------------------------------------ registration

    def documents(
        self,
        collection: str,
        *,
        lease_seconds: float | None = None,
        wait_seconds: float | None = None,
        relayed: bool = True,
        revision_checked: bool = False,
    ) -> DocumentStore:
        """The store through which this service changes documents of `collection`.

        Its documents' outbox events are relayed; `relayed=False` is for collections that
        never carry events (claims, read models), which the relay's sweep then skips. A
        store may choose its own lease and how long a writer waits for it (defaults from
        settings). `revision_checked`: its writes take no lease and check the revision they
        read instead (documents.py), for collections whose documents are written one at a
        time, never held in a block with others. Registered before start; a route asks again
        by name later and gets the same store.
        """
        if (store := self._stores.get(collection)) is not None:
            if lease_seconds is None and wait_seconds is None:
                return store
            raise ValueError(f"the store of {collection!r} exists already with its own lease settings")
        self._before_start(f"the store of {collection!r}")
        if relayed:
            self._outbox_collections.append(collection)
            if self.settings.relay_inline and self.settings.relay_removal_delay_seconds:
                self._relay.defer_removal(collection)
        store = DocumentStore(
            self._db[collection],
            self._locks,
            owner=self.instance,
            lease=timedelta(seconds=lease_seconds or self.settings.document_lease_seconds),
            wait_seconds=wait_seconds or self.settings.document_lease_wait_seconds,
            on_events=self._relay.notify,
            relayed=relayed,
            publish_held=self._relay.publish_held if self.settings.relay_inline else None,
            revision_checked=revision_checked,
            settle_sent=self._relay.remove_sent_of,
        )
        self._stores[collection] = store
        return store

    def subscribe(self, *subscriptions: Subscription) -> None:
        """Consume each subscription's topic in this service's consumer group."""
        self._before_start("subscribe")
        self._pipeline.specs_by_topic.update(
            subscribe(
                self._broker,
                subscriptions,
                kafka=self.settings.kafka,
                group_id=self.settings.group_id,
                consumers_per_topic=self.settings.consumers_per_topic,
                heartbeat_interval_ms=self.settings.consumer_heartbeat_interval_ms,
                session_timeout_ms=self.settings.consumer_session_timeout_ms,
                fetch_max_wait_ms=self.settings.consumer_fetch_max_wait_ms,
                offsets=self._pipeline.offsets,
            )
        )
        self._subscribed.extend(s.spec for s in subscriptions)

    def on_timer(self, kind: str, handler: TimerHandler) -> None:
        """Fire timers of `kind` with `handler` (its events go out through the timer's outbox)."""
        self._before_start("on_timer")
        if kind in self._timer_handlers:
            raise ValueError(f"timer kind {kind!r} has a handler already")
        self._timer_handlers[kind] = handler

    def produces(self, *events: type[BaseModel]) -> None:
        """Declare what this service publishes: its topics are created and documented."""
        self._before_start("produces")
        for event in events:
            spec = spec_for(event)
            self._produced.append(spec)
            # Declared for the AsyncAPI document; the outbox relay does the publishing.
            self._broker.publisher(
                self.settings.kafka.topic(spec.topic),
                title=f"{self.settings.service_name}:{spec.name}",
                description=f"CloudEvents type {spec.type}, key {spec.key_field}",
                schema=spec.model,
            )

    def _before_start(self, what: str) -> None:
        if self._started:
            raise RuntimeError(f"register {what} before the runtime starts")

    # ------------------------------------------------------------------ what services use

    @property
    def cipher(self) -> FieldCipher:
        """The field cipher for free text at rest, built once from `FIELD_ENCRYPTION_*`."""
        if self._cipher is None:
            try:
                self._cipher = FieldCipher.from_settings(self.settings.encryption)
            except ValueError as exc:
                raise RuntimeError(f"{self.settings.service_name}: {exc}") from exc
        return self._cipher

    def asyncapi(self) -> AsyncAPI:
        """The AsyncAPI document of what this service consumes and produces (DESIGN §3)."""
        return AsyncAPI(self._broker, title=f"Carepath {self.settings.service_name}", version="1.0.0")

    def relay_now(self) -> None:
        """Ask the relay to look at once (after a write the stores did not see)."""
        self._relay.notify()

    # ------------------------------------------------------------------ lifecycle

    async def _start_broker(self) -> None:
        """`KafkaBroker.start`, with every subscriber started at once.

        A consumer's start waits for its group's join; FastStream starts subscribers one after
        another, so a service with 14 topics (one group each) spent 14 joins in a row (about a
        second each while the other replica learns of the rebalance) before it consumed.
        """
        await self._broker.connect()
        await asyncio.gather(*(subscriber.start() for subscriber in self._broker.subscribers))
        for publisher in self._broker.publishers:
            await publisher.start()
        self._broker.running = True

    async def start(self) -> None:
        self._started = True
        with untraced():
            await self._liveness.beat()  # before any lease: others can tell if this replica dies
            topics = {spec.name for spec in [*self._subscribed, *self._produced]}
            topics |= {spec.dead_letter_topic for spec in self._subscribed}
            probe = f"{self.settings.group_id}.startup-probe"  # within the service's group ACLs
            # MongoDB's indexes and Kafka's topics at once: a replica restarted into a busy
            # system waits on each of those round trips, so none waits for the other's.
            await asyncio.gather(
                self._prepare_storage(),
                self._until_kafka_answers(
                    lambda: ensure_topics(self.settings.kafka, sorted(topics), probe_group=probe)
                ),
            )
        self._relay.watch([self._db[name] for name in self._outbox_collections])
        self._pipeline.resume()
        self._pipeline.offsets.start()
        await self._start_broker()  # consumers: their spans continue each record's trace
        self._consumer_lag = ConsumerLag.of_service(self.settings, self._subscribed)
        with untraced():  # tasks inherit it; a relayed event or a firing timer traces itself
            self._tasks = [
                asyncio.create_task(self._liveness.run(), name="heartbeat"),
                asyncio.create_task(self._relay.run(), name="outbox-relay"),
                asyncio.create_task(self._timer_worker.run(), name="timer-worker"),
                asyncio.create_task(self._keep_house(), name="housekeeping"),
                asyncio.create_task(self._watch_peers(), name="peer-watch"),
                asyncio.create_task(self._consumer_lag.run(), name="consumer-lag"),
            ]
        self._relay.notify()
        log.info("service runtime started", instance=self.instance, subscriptions=len(self._subscribed))

    async def replica_gone(self, instance: str) -> bool:
        """Whether that replica's heartbeat ran out (one read; a replica never seen: False)."""
        return await self._liveness.is_dead(instance)

    async def stop(self) -> None:
        self._relay.stop()
        self._timer_worker.stop()
        self._housekeeping.stop()
        self._peer_watch.stop()
        if self._consumer_lag is not None:
            self._consumer_lag.stop()
        background = [t for t in self._tasks if t.get_name() != "heartbeat"]
        await _finish(background, self.settings.shutdown_grace_seconds)
        self._pipeline.stop()  # no record starts; one waiting out an outage is given back
        await self._pipeline.drain(self.settings.shutdown_grace_seconds)  # the records in hand
        await self._pipeline.offsets.stopping()  # commit what is done; from now on, each at once
        await self._broker.stop()
        with suppress(Exception), untraced():
            await self._relay.remove_sent(due_only=False)  # else peers would publish them again
        with suppress(Exception), untraced():
            await self._locks.release_lingering()
        self._liveness.stop()
        await _finish(self._tasks, self.settings.shutdown_grace_seconds)
        self._tasks = []
        with suppress(Exception), untraced():
            await self._liveness.retire()
        await self._mongo.close()
        log.info("service runtime stopped", instance=self.instance)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ readiness

    async def kafka_ready(self) -> bool:
        return await self._broker.ping(timeout=2.0)

    async def mongo_ready(self) -> bool:
        await ping_mongo(self._mongo)
        return True

    def assigned_partitions(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs this replica's consumers hold now."""
        assigned: set[tuple[str, int]] = set()
        for subscriber in self._broker.subscribers:
            # FastStream keeps one consumer, or a subgroup of them with consumers_per_topic > 1.
            consumers = getattr(subscriber, "consumer_subgroup", None) or [
                getattr(subscriber, "consumer", None)
            ]
            for consumer in consumers:
                if consumer is not None:
                    assigned |= {(tp.topic, tp.partition) for tp in consumer.assignment()}
        return assigned

    async def consuming(self) -> bool:
        """False while a handler waits out an infrastructure outage (nothing is committed)."""
        return not self._pipeline.stalled

    # ------------------------------------------------------------------ internals

    async def _publish_pending(self, event: PendingEvent) -> None:
        """Publish one outbox entry; returns once the broker confirmed it (acks=all)."""
        await self._broker.publish(
            event.value,
            topic=self.settings.kafka.topic(event.topic),
            key=event.key.encode(),
            headers=event.headers,
            correlation_id=event.headers.get("correlation_id"),
        )

    async def _until_kafka_answers(self, step: Callable[[], Awaitable[None]]) -> None:
        """Retry a start-up step while Kafka is unreachable, up to `startup_timeout_seconds`.

        A replica that starts while the broker restarts (or before it, under an orchestrator
        that starts everything at once) waits instead of exiting at once.
        """
        deadline = asyncio.get_running_loop().time() + self.settings.startup_timeout_seconds
        delay = 0.5
        while True:
            try:
                await step()
                return
            except KafkaError as error:
                if asyncio.get_running_loop().time() + delay > deadline:
                    raise
                log.warning("kafka not reachable at start-up; retrying", error_type=type(error).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _keep_house(self) -> None:
        """Drop dead leases often and old inbox records now and then (any replica may)."""
        retention = timedelta(days=self.settings.inbox_retention_days)
        every = timedelta(seconds=self.settings.inbox_prune_interval_seconds)
        while not self._housekeeping.stopped:
            try:
                if pruned := await self._locks.prune():
                    log.info("stale leases pruned", leases=pruned)
                now = utc_now()  # real time (housekeeping); domain code uses `self.clock`
                if self._inbox_pruned_at is None or now - self._inbox_pruned_at >= every:
                    if pruned := await self._inbox.prune(now - retention):
                        log.info("inbox pruned", records=pruned)
                    self._inbox_pruned_at = now
            except Exception:
                log.exception("housekeeping failed; will retry")
            await self._housekeeping.pause()

    async def _watch_peers(self) -> None:
        """Sweep outboxes and timers as soon as another replica's heartbeat runs out.

        Its unpublished events and the timers only it remembered are nobody's now; waiting
        for the periodic sweeps would hold them up to a minute. One small scan (the
        replicas collection) per liveness timeout.
        """
        seen: set[str] = set()
        while not self._peer_watch.stopped:
            try:
                dead = set(await self._liveness.dead_owners()) - {self.instance}
                if dead - seen:
                    log.info("replica heartbeat ran out; sweeping", replicas=len(dead - seen))
                    self._relay.sweep_soon()
                    self._timer_worker.sweep_soon()
                seen = dead
            except Exception:
                log.warning("peer watch failed; will retry", exc_info=True)
            await self._peer_watch.pause()

    async def _prepare_storage(self) -> None:
        """The indexes the runtime's sweeps use, all requested at once (each is idempotent).

        The timer store indexes its own collections, its finished timers' outbox included.
        """
        done = self.timers.done.name
        await asyncio.gather(
            self.timers.ensure_indexes(),
            *(ensure_outbox_index(self._db[name]) for name in self._outbox_collections if name != done),
        )


async def _finish(tasks: list[asyncio.Task[None]], grace_seconds: float) -> None:
    """Wait for `tasks` to end by themselves, cancelling what outlives the grace period."""
    if not tasks:
        return
    _, unfinished = await asyncio.wait(tasks, timeout=grace_seconds)
    for task in unfinished:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
