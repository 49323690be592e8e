"""Consumer lag per consumer group and partition, polled from Kafka every few seconds.

    lag = ConsumerLag.of_service(settings, specs)   # the groups `subscribe` makes
    task = asyncio.create_task(lag.run(), name="consumer-lag")
    ...
    lag.stop(); await task

Lag is what a group has still to handle on a partition: the partition's high watermark
(the offset the next record will get) minus the group's committed offset. A group that
has committed nothing on a partition starts from its earliest record (subscriptions use
`auto_offset_reset="earliest"`), so there the lag counts from the log start offset.

Polled on an interval, not on each scrape: a scrape must answer at once and must not
make Kafka requests proportional to how many Prometheus servers ask, and the KEDA
scaler polls on its own anyway. Every replica of a service polls the same groups and
reports the same figures; dashboards and alerts take the `max` across replicas. A failed
poll keeps the last figures and counts a failure; the next poll tries again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from contextlib import suppress
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from shared.background import Pacer
from shared.events.registry import EventSpec
from shared.messaging.broker import kafka_connection_options
from shared.messaging.subscriptions import group_for
from shared.observability.logs import get_logger
from shared.observability.metrics import CONSUMER_LAG, CONSUMER_LAG_POLL_FAILURES
from shared.settings import KafkaSettings, ServiceSettings

log = get_logger(__name__)

PartitionLag = dict[tuple[str, str, int], int]
"""Lag by (group, topic, partition)."""


def partition_lag(high_watermark: int, committed: int | None, log_start: int) -> int:
    """Records the group has yet to handle on one partition.

    `committed` is None (or negative, Kafka's "no offset") when the group never committed
    there: it will start from the log start. Never negative: a watermark read a moment
    before a commit can trail it.
    """
    position = committed if committed is not None and committed >= 0 else log_start
    return max(0, high_watermark - max(position, log_start))


class ConsumerLag:
    """Polls the lag of consumer groups on their topics into `carepath_consumer_lag`."""

    def __init__(
        self,
        kafka: KafkaSettings,
        groups: Mapping[str, str],
        *,
        interval_seconds: float = 10.0,
        timeout_seconds: float = 10.0,
    ) -> None:
        """`groups`: consumer group id -> the (full, prefixed) topic it consumes."""
        self._kafka = kafka
        self._groups = dict(groups)
        self._timeout = timeout_seconds
        self._pacer = Pacer(interval_seconds)
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None

    @classmethod
    def of_service(cls, settings: ServiceSettings, specs: Iterable[EventSpec], **options: Any) -> ConsumerLag:
        """The groups a service's subscriptions join (`group_for`), one per consumed topic."""
        groups = {group_for(settings.group_id, spec): settings.kafka.topic(spec.topic) for spec in specs}
        return cls(settings.kafka, groups, **options)

    @property
    def groups(self) -> dict[str, str]:
        return dict(self._groups)

    def stop(self) -> None:
        """Finish the poll in hand and return from `run()`."""
        self._pacer.stop()

    async def run(self) -> None:
        """Poll every interval until `stop()`; the Kafka clients live as long as the loop."""
        if not self._groups:
            return
        try:
            while not self._pacer.stopped:
                try:
                    await self.poll_once()
                except Exception as error:
                    CONSUMER_LAG_POLL_FAILURES.inc()
                    log.warning("consumer lag poll failed; will retry", error_type=type(error).__name__)
                    await self._close()  # a fresh connection next time
                await self._pacer.pause()
        finally:
            await self._close()

    async def poll_once(self) -> PartitionLag:
        """Read every group's committed offsets and its topic's watermarks; set and return the lag."""
        async with asyncio.timeout(self._timeout):
            admin, offsets = await self._clients()
            partitions = await _partitions(admin, sorted(set(self._groups.values())))
            if not partitions:
                return {}
            ends = await offsets.end_offsets(partitions)
            starts = await offsets.beginning_offsets(partitions)
            lags: PartitionLag = {}
            for group, topic in self._groups.items():
                mine = [tp for tp in partitions if tp.topic == topic]
                if not mine:
                    continue  # the topic does not exist yet: nothing to lag behind
                committed = await admin.list_consumer_group_offsets(group, partitions=mine)
                for tp in mine:
                    found = committed.get(tp)
                    lag = partition_lag(ends[tp], found.offset if found else None, starts[tp])
                    lags[(group, topic, tp.partition)] = lag
        for (group, topic, partition), lag in lags.items():
            CONSUMER_LAG.labels(group, topic, str(partition)).set(lag)
        return lags

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._offsets is None:
            options = kafka_connection_options(self._kafka)
            admin = AIOKafkaAdminClient(**options, client_id="carepath-consumer-lag")
            # Group-less and never assigned: it only asks for watermarks, joins no group.
            offsets = AIOKafkaConsumer(**options, group_id=None, enable_auto_commit=False)
            try:
                await admin.start()
                await offsets.start()
            except BaseException:
                with suppress(Exception):
                    await admin.close()
                with suppress(Exception):
                    await offsets.stop()
                raise
            self._admin, self._offsets = admin, offsets
        return self._admin, self._offsets

    async def _close(self) -> None:
        admin, offsets = self._admin, self._offsets
        self._admin = self._offsets = None
        if admin is not None:
            with suppress(Exception):
                await admin.close()
        if offsets is not None:
            with suppress(Exception):
                await offsets.stop()


async def _partitions(admin: AIOKafkaAdminClient, topics: list[str]) -> list[TopicPartition]:
    """Every partition of the topics that exist (a topic not created yet is left out).

    Asks for the metadata of all topics, not of these: a request naming a topic lets a
    broker with `auto.create.topics.enable` create it, and watching must create nothing.
    """
    wanted = set(topics)
    found: list[TopicPartition] = []
    for topic in await admin.describe_topics():
        if topic["topic"] in wanted and not topic.get("error_code", 0):
            found += [TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]]
    return sorted(found)
