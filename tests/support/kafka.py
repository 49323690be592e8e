"""Real-broker helpers for tests: publish enveloped events, read raw records back."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord, TopicPartition

from shared.events.envelope import OutgoingEvent, new_event
from shared.events.models import CheckInDue
from shared.messaging.broker import kafka_connection_options
from shared.settings import KafkaSettings


def isolated(bootstrap_servers: str) -> KafkaSettings:
    """Settings with a topic prefix of their own: a test's (or module's) private topics."""
    return KafkaSettings(bootstrap_servers=bootstrap_servers, topic_prefix=f"t{uuid.uuid4().hex[:10]}-")


async def drop_topics(kafka: KafkaSettings) -> None:
    """Delete the topics of `kafka.topic_prefix` once a test is done with them.

    Every test gets its own prefix, and each service creates its topics and their `.dlq`
    with six partitions: kept, a full run leaves tens of thousands of partitions, which
    exhaust a local broker's heap. Best effort: a broker that cannot answer now only
    keeps a few more topics.
    """
    if not kafka.topic_prefix:
        return
    admin = AIOKafkaAdminClient(**kafka_connection_options(kafka))
    try:
        await admin.start()
        doomed = [t for t in await admin.list_topics() if t.startswith(kafka.topic_prefix)]
        if doomed:
            await admin.delete_topics(doomed)
    except Exception as exc:
        print(f"could not delete topics {kafka.topic_prefix}*: {exc!r}", file=sys.stderr)
    finally:
        with suppress(Exception):
            await admin.close()


def check_in_due(client_id: str = "client-1", *, check_in_id: str = "ci-1") -> CheckInDue:
    return CheckInDue(
        check_in_id=check_in_id,
        client_id=client_id,
        therapist_id="therapist-1",
        due_at=datetime.now(UTC) + timedelta(days=1),
        instruments=["phq9", "gad7"],
    )


def event(data: Any, **kwargs: Any) -> OutgoingEvent:
    """`data` enveloped as its producer sends it (consumers dead-letter any other `ce_source`)."""
    return new_event(data, **kwargs)


async def publish_raw(
    kafka: KafkaSettings,
    topic: str,
    records: list[tuple[bytes | None, bytes, dict[str, str]]],
) -> None:
    """Publish (key, value, headers) records to a full topic name, confirmed by the broker."""
    producer = AIOKafkaProducer(**kafka_connection_options(kafka), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(
                topic, value=value, key=key, headers=[(k, v.encode()) for k, v in headers.items()]
            )
    finally:
        await producer.stop()


async def publish_events(kafka: KafkaSettings, *events: OutgoingEvent) -> None:
    for outgoing in events:
        await publish_raw(
            kafka,
            kafka.topic(outgoing.topic),
            [(outgoing.key.encode(), outgoing.value(), outgoing.envelope.to_headers())],
        )


async def read_records(
    kafka: KafkaSettings, topic: str, *, expect: int, timeout: float = 30.0, settle: float = 0.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read a full topic name from the beginning until `expect` records (then `settle` more seconds)."""
    # A throwaway group: aiokafka's group-less coordinator can leak a CancelledError on stop.
    consumer = AIOKafkaConsumer(
        **kafka_connection_options(kafka),
        group_id=f"reader-{uuid.uuid4().hex}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    consumer.subscribe([topic])
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + timeout
        settle_until: float | None = None
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for part in batch.values():
                records.extend(part)
            if len(records) >= expect:
                settle_until = settle_until or time.monotonic() + settle
                if time.monotonic() >= settle_until:
                    break
    finally:
        await consumer.stop()
    return records


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, interval: float = 0.1
) -> None:
    """Wait until `check()` holds; fail the test with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


class TopicRecorder:
    """Every record on some topics, read from the start by one consumer in the background.

    Tests that wait for several events at once read them from `records` instead of
    starting a consumer (and a group join) per wait. Its group commits nothing, so a rejoin
    (a missed heartbeat on a busy machine) reads every partition from the start again: a
    record read before is kept once, by its place in the log, or a test counting a client's
    events would see each twice.
    """

    def __init__(self, kafka: KafkaSettings, events: Iterable[str]) -> None:
        self._kafka = kafka
        self.records: list[ConsumerRecord[bytes, bytes]] = []
        self._next: dict[TopicPartition, int] = {}  # per partition: the offset after the last kept
        self._consumer = AIOKafkaConsumer(
            *(kafka.topic(name) for name in events),
            **kafka_connection_options(kafka),
            group_id=f"recorder-{uuid.uuid4().hex}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=1000,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._collect())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _collect(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            for partition, part in batch.items():
                unread = [r for r in part if r.offset >= self._next.get(partition, 0)]
                if unread:
                    self._next[partition] = unread[-1].offset + 1
                    self._take(unread)

    def _take(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Keep what was read; a subclass that needs less (or more) per record overrides this."""
        self.records.extend(records)


async def committed_offsets(kafka: KafkaSettings, group: str) -> dict[TopicPartition, int]:
    """The offsets `group` has committed, per partition (partitions it never committed left out)."""
    admin = AIOKafkaAdminClient(**kafka_connection_options(kafka))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
