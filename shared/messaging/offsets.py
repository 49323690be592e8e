"""Offsets committed on an interval, never past a record whose effects are not stored.

Committing after every record cost a round trip to the group coordinator per event (about
6 ms, more than the handler's own database work). The pipeline now reports each record it
is done with (handled, skipped as a duplicate, or dead-lettered) here, and the highest such
offset per partition is committed every `interval_seconds`, when partitions are revoked in
a rebalance, and at once for every record while the service stops.

Records of one partition are handled concurrently, key by key (`consumption.py`), so they
finish out of order. The pipeline says when each record starts (`started`) and when it is
done; a partition is committed up to its lowest record still in flight, or past its highest
done when none is, so a commit never passes a record whose effects are not stored. A record
that never finishes (the service stops while it waits out an outage) holds its partition's
commits back until the partition is revoked. And a record handled but not yet committed
when a replica dies only comes again: the inbox recognises its event id and nothing happens
twice (DESIGN §4).
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
REVOKE_WAIT_SECONDS = 10.0
"""How long a revoked partition's records in flight may still finish before it is committed."""


def is_group_consumer(consumer: Any) -> bool:
    """Whether `consumer` is a real group member (aiokafka's), not FastStream's test stand-in,
    which has no assignment and commits each record as it is done."""
    return callable(getattr(consumer, "assignment", None))


class _Partition:
    """One owned partition's records in flight, the highest one done, the position pending."""

    __slots__ = ("consumer", "done_past", "in_flight", "pended", "settled")

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.in_flight: set[int] = set()
        self.done_past = -1  # the offset after the highest record done
        self.pended = -1  # the last position made pending for a commit
        self.settled = asyncio.Event()
        self.settled.set()

    def position(self) -> int:
        """The offset to commit: every record before it is done."""
        return min(self.in_flight) if self.in_flight else self.done_past


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
        self._partitions: dict[TopicPartition, _Partition] = {}
        self._owners: dict[TopicPartition, AIOKafkaConsumer] = {}
        self._owned_since: dict[TopicPartition, datetime] = {}
        self._immediate = False
        self._task: asyncio.Task[None] | None = None
        self._soon = asyncio.Event()

    def started(self, consumer: Any, topic: str, partition: int, offset: int) -> None:
        """The record at `offset` is being handled: no commit passes it until it is done."""
        if not is_group_consumer(consumer):
            return  # FastStream's test broker: each record is committed when done
        tp = TopicPartition(topic, partition)
        state = self._partitions.get(tp)
        if state is None or state.consumer is not consumer:
            state = self._partitions[tp] = _Partition(consumer)
        state.in_flight.add(offset)
        state.settled.clear()

    async def done(self, consumer: Any, topic: str, partition: int, offset: int) -> None:
        """The record at `offset`, `started` before, is finished with: it may be committed past."""
        if not is_group_consumer(consumer):
            if self._before_commit is not None:
                await self._before_commit()
            await consumer.commit()  # FastStream's test broker's stand-in: nothing to keep
            return
        tp = TopicPartition(topic, partition)
        state = self._partitions.get(tp)
        if state is None or state.consumer is not consumer or offset not in state.in_flight:
            return  # started before the partition was revoked: its new owner reads it again
        state.in_flight.discard(offset)
        state.done_past = max(state.done_past, offset + 1)
        if not state.in_flight:
            state.settled.set()
        position = state.position()
        if position <= state.pended:
            return
        state.pended = position
        self._pending[tp] = (consumer, position)
        self._owners[tp] = consumer
        if self._immediate:
            await self.flush_quietly([tp])

    async def settle(self, partitions: Iterable[TopicPartition], timeout: float) -> None:
        """Wait up to `timeout` seconds for `partitions`' records in flight to finish."""
        waits = [state.settled.wait() for tp in partitions if (state := self._partitions.get(tp))]
        if waits:
            with suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waits), timeout)

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """`partitions` went to another member: what is still in flight there is not ours to commit."""
        for tp in partitions:
            self._partitions.pop(tp, None)
            self._owned_since.pop(tp, None)

    async def done_unparsed(self, record: Any) -> None:
        """A record that failed before FastStream made a message of it, now dead-lettered.

        Its consumer is the record's own (set by FastStream's concurrent subscribers) or the
        one that last reported its partition; with neither, the next record's commit covers it.
        """
        tp = TopicPartition(record.topic, record.partition)
        consumer = getattr(record, "consumer", None) or self._owners.get(tp)
        if consumer is not None:
            self.started(consumer, record.topic, record.partition, record.offset)
            await self.done(consumer, record.topic, record.partition, record.offset)

    def start(self) -> None:
        self._immediate = False
        self._soon = asyncio.Event()  # of the loop that runs the commits
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

    def listener(self, revoke_wait_seconds: float = REVOKE_WAIT_SECONDS) -> ConsumerRebalanceListener:
        """For a subscriber: let a partition's records in flight finish (up to
        `revoke_wait_seconds`) and commit them before it goes to another member."""
        return _CommitOnRevoke(self, revoke_wait_seconds)

    def commit_soon(self) -> None:
        """Commit what is done now rather than at the interval's end (after a dead letter:
        a replica killed before its commit writes that dead letter again)."""
        self._soon.set()

    async def _run(self) -> None:
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._soon.wait(), self.interval_seconds)
            self._soon.clear()
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
    def __init__(self, committer: OffsetCommitter, wait_seconds: float) -> None:
        self._committer = committer
        self._wait_seconds = wait_seconds

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        revoked = list(revoked)
        await self._committer.settle(revoked, self._wait_seconds)
        await self._committer.flush_quietly(revoked)
        self._committer.forget(revoked)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        now = datetime.now(UTC)
        for tp in assigned:
            self._committer._owned_since[tp] = now
