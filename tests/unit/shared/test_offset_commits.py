"""Handled offsets are committed per partition on an interval, on revocation and, while stopping, at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from shared.messaging.offsets import OffsetCommitter

P0, P1 = TopicPartition("session-booked", 0), TopicPartition("session-booked", 1)


class Consumer:
    """An aiokafka consumer as the committer sees it: its assignment and its commits."""

    def __init__(self, *assigned: TopicPartition, refuse: bool = False) -> None:
        self.assigned = set(assigned)
        self.commits: list[dict[TopicPartition, int]] = []
        self.refuse = refuse

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.refuse:
            raise CommitFailedError("rebalanced")
        self.commits.append(dict(offsets))


async def done(committer: OffsetCommitter, consumer: Any, tp: TopicPartition, offset: int) -> None:
    committer.started(consumer, tp.topic, tp.partition, offset)
    await committer.done(consumer, tp.topic, tp.partition, offset)


async def test_records_finishing_out_of_order_are_committed_only_up_to_the_lowest_in_flight() -> None:
    committer, consumer = OffsetCommitter(), Consumer(P0)
    for offset in (10, 11, 12):
        committer.started(consumer, P0.topic, P0.partition, offset)
    await committer.done(consumer, P0.topic, P0.partition, 12)
    await committer.done(consumer, P0.topic, P0.partition, 10)
    await committer.flush()
    assert consumer.commits == [{P0: 11}], "11 is still in flight: nothing past it"

    await committer.done(consumer, P0.topic, P0.partition, 11)
    await committer.flush()
    assert consumer.commits == [{P0: 11}, {P0: 13}]


async def test_a_revoked_partition_waits_for_its_records_in_flight_then_commits_them() -> None:
    committer, consumer = OffsetCommitter(), Consumer(P0)
    committer.started(consumer, P0.topic, P0.partition, 4)

    async def finish_soon() -> None:
        await asyncio.sleep(0.05)
        await committer.done(consumer, P0.topic, P0.partition, 4)

    finishing = asyncio.create_task(finish_soon())
    await committer.listener().on_partitions_revoked([P0])
    await finishing

    assert consumer.commits == [{P0: 5}]


async def test_a_record_that_outlasts_its_partitions_revocation_commits_nothing() -> None:
    committer, consumer = OffsetCommitter(), Consumer(P0)
    committer.started(consumer, P0.topic, P0.partition, 4)

    await committer.listener(revoke_wait_seconds=0.01).on_partitions_revoked([P0])
    await committer.done(consumer, P0.topic, P0.partition, 4)  # the new owner reads it again
    await committer.flush()

    assert consumer.commits == []


async def test_many_records_make_one_commit_of_each_partitions_next_offset() -> None:
    committer, consumer = OffsetCommitter(), Consumer(P0, P1)
    for offset in (10, 11, 12):
        await done(committer, consumer, P0, offset)
    await done(committer, consumer, P1, 4)
    assert consumer.commits == []  # nothing per record

    await committer.flush()
    await committer.flush()  # nothing new: no second commit

    assert consumer.commits == [{P0: 13, P1: 5}]


async def test_a_revoked_partition_is_committed_before_it_goes_and_the_others_wait() -> None:
    committer, consumer = OffsetCommitter(), Consumer(P0, P1)
    await done(committer, consumer, P0, 7)
    await done(committer, consumer, P1, 9)

    await committer.listener().on_partitions_revoked([P0])

    assert consumer.commits == [{P0: 8}]
    await committer.flush()
    assert consumer.commits == [{P0: 8}, {P1: 10}]


async def test_a_partition_no_longer_owned_or_a_refused_commit_only_means_redelivery() -> None:
    committer = OffsetCommitter()
    moved, refusing = Consumer(P1), Consumer(P0, refuse=True)
    await done(committer, moved, P0, 3)  # P0 went to another member meanwhile
    await done(committer, refusing, P0, 5)
    await committer.flush()  # no error escapes
    assert moved.commits == [] and refusing.commits == []


async def test_while_stopping_each_record_is_committed_at_once() -> None:
    committer, consumer = OffsetCommitter(), Consumer(P0)
    await done(committer, consumer, P0, 1)
    await committer.stopping()  # what was pending goes first
    await done(committer, consumer, P0, 2)
    assert consumer.commits == [{P0: 2}, {P0: 3}]


async def test_the_inbox_is_stored_before_any_offset_passes_what_it_records() -> None:
    order: list[str] = []
    consumer = Consumer(P0)

    async def store_inbox() -> None:
        order.append(f"inbox stored, commits so far {len(consumer.commits)}")

    committer = OffsetCommitter(before_commit=store_inbox)
    await done(committer, consumer, P0, 3)
    await committer.flush()

    assert order == ["inbox stored, commits so far 0"]
    assert consumer.commits == [{P0: 4}]


async def test_offsets_wait_while_the_inbox_cannot_be_stored_and_go_once_it_can() -> None:
    consumer = Consumer(P0)
    database_up = False

    async def store_inbox() -> None:
        if not database_up:
            raise ConnectionError("database down")

    committer = OffsetCommitter(before_commit=store_inbox)
    await done(committer, consumer, P0, 3)
    await committer.flush_quietly()  # the interval's flush: the failure only holds offsets back
    assert consumer.commits == []

    await done(committer, consumer, P0, 4)
    database_up = True
    await committer.flush()

    assert consumer.commits == [{P0: 5}]


async def test_the_committer_knows_since_when_it_owns_a_partition_and_forgets_it_on_revocation() -> None:
    committer = OffsetCommitter()
    listener = committer.listener()
    before = datetime.now(UTC)

    await listener.on_partitions_assigned([TopicPartition("intake-completed", 0)])
    owned = committer.owned_since("intake-completed", 0)
    await listener.on_partitions_revoked([TopicPartition("intake-completed", 0)])

    assert owned is not None and owned >= before
    assert committer.owned_since("intake-completed", 1) is None
    assert committer.owned_since("intake-completed", 0) is None, "another member may handle it now"


async def test_a_commit_asked_for_soon_goes_before_the_interval_ends() -> None:
    committer, consumer = OffsetCommitter(interval_seconds=60), Consumer(P0)
    committer.start()
    try:
        await done(committer, consumer, P0, 2)
        committer.commit_soon()  # after a dead letter
        for _ in range(100):
            if consumer.commits:
                break
            await asyncio.sleep(0.01)
    finally:
        await committer.stopping()
    assert consumer.commits[0] == {P0: 3}
