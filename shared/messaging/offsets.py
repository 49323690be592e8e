"""Offsets committed on an interval, never past a record whose effects are not stored.

Committing after every record cost a round trip to the group coordinator per event (about
6 ms, more than the handler's own database work). The pipeline now reports each record it
is done with (handled, skipped as a duplicate, or dead-lettered) here, and the highest such
offset per partition is committed every `interval_seconds`, when partitions are revoked in
a rebalance, and at once for every record while the service stops.

Safety rests on two facts. A consumer handles its partitions' records one at a time, in
order, and a record that fails is sought back to (`nack`) before anything after it is
handled, so the highest reported offset of a partition has every earlier one done too. And
a record handled but not yet committed when a replica dies only comes again: the inbox
recognises its event id and nothing happens twice (DESIGN §4).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from shared.observability.logs import get_logger

log = get_logger(__name__)

DEFAULT_INTERVAL_SECONDS = 0.25


class OffsetCommitter:
    """The next offset to commit per partition, and the consumer that owns it."""

    def __init__(
        self,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        *,
        before_commit: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.interval_seconds = interval_seconds
        # Stores what must be durable before offsets pass it (the inbox's handled ids).
        self._before_commit = before_commit
        self._pending: dict[TopicPartition, tuple[AIOKafkaConsumer, int]] = {}
        self._owners: dict[TopicPartition, AIOKafkaConsumer] = {}
        self._owned_since: dict[TopicPartition, datetime] = {}
        self._immediate = False
        self._task: asyncio.Task[None] | None = None

    async def done(self, consumer: Any, topic: str, partition: int, offset: int) -> None:
        """The record at `offset` is finished with: its partition may be committed past it."""
        if not callable(getattr(consumer, "assignment", None)):
            if self._before_commit is not None:
                await self._before_commit()
            await consumer.commit()  # FastStream's test broker's stand-in: nothing to keep
            return
        tp = TopicPartition(topic, partition)
        self._pending[tp] = (consumer, offset + 1)
        self._owners[tp] = consumer
        if self._immediate:
            await self.flush_quietly([tp])

    async def done_unparsed(self, record: Any) -> None:
        """A record that failed before FastStream made a message of it, now dead-lettered.

        Its consumer is the record's own (set by FastStream's concurrent subscribers) or the
        one that last reported its partition; with neither, the next record's commit covers it.
        """
        tp = TopicPartition(record.topic, record.partition)
        consumer = getattr(record, "consumer", None) or self._owners.get(tp)
        if consumer is not None:
            await self.done(consumer, record.topic, record.partition, record.offset)

    def start(self) -> None:
        self._immediate = False
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="offset-commits")

    async def stopping(self) -> None:
        """The service stops: commit what is pending, then every record as it finishes."""
        self._immediate = True
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush_quietly()

    async def flush(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        """Commit the pending offsets (of `partitions`, or all), one request per consumer."""
        chosen = (
            list(self._pending) if partitions is None else [tp for tp in partitions if tp in self._pending]
        )
        taken = {tp: self._pending.pop(tp) for tp in chosen}
        if self._before_commit is not None and taken:
            try:
                # Taken first: whatever is stored now covers every record up to these offsets.
                await self._before_commit()
            except BaseException:
                for tp, (consumer, offset) in taken.items():  # not committed: try again later
                    newer = self._pending.get(tp)
                    if newer is None or newer[1] < offset:
                        self._pending[tp] = (consumer, offset)
                raise
        by_consumer: dict[AIOKafkaConsumer, dict[TopicPartition, int]] = {}
        for tp, (consumer, offset) in taken.items():
            by_consumer.setdefault(consumer, {})[tp] = offset
        for consumer, offsets in by_consumer.items():
            await _commit(consumer, offsets)

    def owned_since(self, topic: str, partition: int) -> datetime | None:
        """When this process's consumer was given the partition (None: not known to be its)."""
        return self._owned_since.get(TopicPartition(topic, partition))

    def listener(self) -> ConsumerRebalanceListener:
        """For a subscriber: commit a partition's pending offset before it goes to another member."""
        return _CommitOnRevoke(self)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_seconds)
            if self._pending:
                await self.flush_quietly()

    async def flush_quietly(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        """`flush`, where a failure to store the inbox only holds the offsets back (redelivery)."""
        try:
            await self.flush(partitions)
        except Exception as exc:
            log.warning("offsets held back: the inbox could not be stored", error_type=type(exc).__name__)


async def _commit(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
    """Commit `offsets` of partitions `consumer` still owns; a refusal only means redelivery."""
    owned = consumer.assignment()
    offsets = {tp: offset for tp, offset in offsets.items() if tp in owned}
    if not offsets:
        return
    try:
        await consumer.commit(offsets)
    except KafkaError as exc:  # a rebalance took the partition, or the coordinator moved
        log.info(
            "offsets not committed; those records come again and the inbox skips them",
            partitions=len(offsets),
            error_type=type(exc).__name__,
        )


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, committer: OffsetCommitter) -> None:
        self._committer = committer

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        for tp in revoked:
            self._committer._owned_since.pop(tp, None)
        await self._committer.flush_quietly(revoked)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        now = datetime.now(UTC)
        for tp in assigned:
            self._committer._owned_since[tp] = now
