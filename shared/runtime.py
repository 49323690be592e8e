"""What one service process runs besides its routes: Kafka, MongoDB, relay, timers.

Each service builds one `ServiceRuntime` in its `app.py` (its single wiring place),
naming its subscriptions, the collections whose documents carry an outbox, and its
timer handlers. Start and stop order is what makes shutdown safe: on SIGTERM the
timer worker and relay stop first, then subscribers finish the message in hand and
commit, then the connections close.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.background import Pacer
from shared.events.registry import EventSpec
from shared.messaging.broker import build_broker
from shared.messaging.consumption import ReliableConsumption, RetryPolicy
from shared.messaging.dead_letters import DeadLetters
from shared.messaging.subscriptions import Subscription, subscribe
from shared.messaging.topics import ensure_topics
from shared.observability.audit import AuditLog
from shared.observability.logs import get_logger
from shared.settings import ServiceSettings
from shared.storage.client import connect_mongo, ping_mongo
from shared.storage.documents import DocumentStore
from shared.storage.inbox import Inbox
from shared.storage.locks import Locks
from shared.storage.outbox import OutboxRelay, PendingEvent, ensure_outbox_index
from shared.storage.timers import TimerHandler, TimerStore, TimerWorker

log = get_logger(__name__)

Document = dict[str, Any]


def instance_id(service: str) -> str:
    """Names this replica in leases, so an operator can tell which replica holds what."""
    return f"{service}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        subscriptions: Sequence[Subscription] = (),
        produces: Sequence[EventSpec] = (),
        outbox_collections: Sequence[str] = (),
        timer_handlers: Mapping[str, TimerHandler] | None = None,
    ) -> None:
        self.settings = settings
        self.instance = instance_id(settings.service_name)
        self.mongo: AsyncMongoClient[Document] = connect_mongo(settings.mongo, app_name=self.instance)
        self.db: AsyncDatabase[Document] = self.mongo[settings.database_name]
        self.inbox = Inbox(self.db["inbox"])
        self.locks = Locks(self.db["locks"])
        self.audit = AuditLog(self.db["audit"], service=settings.service_name)
        self.timers = TimerStore(self.db["timers"], self.locks)
        self.broker: KafkaBroker = build_broker(
            settings.kafka,
            client_id=settings.service_name,
            graceful_timeout=settings.shutdown_grace_seconds,
        )
        self.pipeline = ReliableConsumption(
            consumer=settings.group_id,
            specs_by_topic={},
            inbox=self.inbox,
            dead_letters=DeadLetters(self.broker, consumer=settings.group_id),
            retry=RetryPolicy(
                max_attempts=settings.retry_max_attempts,
                initial_backoff_seconds=settings.retry_initial_backoff_seconds,
                max_backoff_seconds=settings.retry_max_backoff_seconds,
            ),
        )
        self.broker.add_middleware(self.pipeline)
        self.pipeline.specs_by_topic.update(
            subscribe(
                self.broker,
                subscriptions,
                kafka=settings.kafka,
                group_id=settings.group_id,
            )
        )
        self._subscribed = [s.spec for s in subscriptions]
        self._produces = list(produces)
        for spec in self._produces:
            # Declared for the AsyncAPI document; the outbox relay does the publishing.
            self.broker.publisher(
                settings.kafka.topic(spec.topic),
                title=f"{settings.service_name}:{spec.name}",
                description=f"CloudEvents type {spec.type}, key {spec.key_field}",
                schema=spec.model,
            )
        self._outbox_collection_names = [*outbox_collections, "timers"]
        self.relay = OutboxRelay(
            [self.db[name] for name in self._outbox_collection_names],
            self.publish_pending,
            self.locks,
            owner=self.instance,
            lease_seconds=settings.relay_lease_seconds,
            poll_interval_seconds=settings.relay_poll_interval_seconds,
        )
        self.timer_worker = TimerWorker(
            self.timers,
            timer_handlers or {},
            owner=self.instance,
            lease_seconds=settings.timer_lease_seconds,
            poll_interval_seconds=settings.timer_poll_interval_seconds,
            max_attempts=settings.timer_max_attempts,
            on_fired=self.relay.notify,
        )
        self._housekeeping = Pacer(settings.housekeeping_interval_seconds)
        self._tasks: list[asyncio.Task[None]] = []

    def documents(self, collection: str) -> DocumentStore:
        """The store through which this service changes documents of `collection`.

        The collection must be one of `outbox_collections` for its events to be relayed.
        """
        return DocumentStore(
            self.db[collection], self.locks, owner=self.instance, on_events=self.relay.notify
        )

    def asyncapi(self) -> AsyncAPI:
        """The AsyncAPI document of what this service consumes and produces (DESIGN §3)."""
        return AsyncAPI(self.broker, title=f"Carepath {self.settings.service_name}", version="1.0.0")

    async def publish_pending(self, event: PendingEvent) -> None:
        """Publish one outbox entry; returns once the broker confirmed it (acks=all)."""
        await self.broker.publish(
            event.value,
            topic=self.settings.kafka.topic(event.topic),
            key=event.key.encode(),
            headers=event.headers,
            correlation_id=event.headers.get("correlation_id"),
        )

    async def start(self) -> None:
        await self._prepare_storage()
        topics = {spec.name for spec in [*self._subscribed, *self._produces]}
        topics |= {spec.dead_letter_topic for spec in self._subscribed}
        await ensure_topics(self.settings.kafka, sorted(topics))
        await self.broker.start()
        self._tasks = [
            asyncio.create_task(self.relay.run(), name="outbox-relay"),
            asyncio.create_task(self.timer_worker.run(), name="timer-worker"),
            asyncio.create_task(self._keep_house(), name="housekeeping"),
        ]
        self.relay.notify()
        log.info("service runtime started", instance=self.instance, subscriptions=len(self._subscribed))

    async def stop(self) -> None:
        self.relay.stop()
        self.timer_worker.stop()
        self._housekeeping.stop()
        if self._tasks:
            _, unfinished = await asyncio.wait(self._tasks, timeout=self.settings.shutdown_grace_seconds)
            for task in unfinished:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        self._tasks = []
        await self.broker.stop()  # subscribers finish the record in hand and commit
        await self.mongo.close()
        log.info("service runtime stopped", instance=self.instance)

    async def _keep_house(self) -> None:
        """Prune old inbox records now and then (any replica may; deletes are idempotent)."""
        while not self._housekeeping.stopped:
            retention = timedelta(days=self.settings.inbox_retention_days)
            try:
                pruned = await self.inbox.prune(datetime.now(UTC) - retention)
                if pruned:
                    log.info("inbox pruned", records=pruned)
            except Exception:
                log.exception("housekeeping failed; will retry")
            await self._housekeeping.pause()

    async def _prepare_storage(self) -> None:
        await self.timers.ensure_indexes()
        for name in self._outbox_collection_names:
            await ensure_outbox_index(self.db[name])

    async def kafka_ready(self) -> bool:
        return await self.broker.ping(timeout=2.0)

    async def mongo_ready(self) -> bool:
        await ping_mongo(self.mongo)
        return True
