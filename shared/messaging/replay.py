"""Replay dead letters once their cause is fixed (an operator's tool).

    python -m shared.messaging.replay session-booked [--dry-run] [--limit N]

Reads `<topic>.dlq` (topic prefix from `KAFKA_TOPIC_PREFIX`) as the consumer group
`carepath-dlq-replay`, and republishes each dead letter to the topic it came from with
its original key, value and headers (the `dlq_*` headers removed), confirmed by the
broker before the dead letter's offset is committed, so a replay never loses or repeats
a record. The original `ce_id` is kept: consumers that never handled the event handle it
now; any that did see a duplicate and skip it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.events.registry import dead_letter_topic
from shared.messaging.acls import REPLAY_GROUP
from shared.messaging.broker import kafka_connection_options
from shared.messaging.dead_letters import DLQ_HEADERS
from shared.settings import KafkaSettings


@dataclass(frozen=True, slots=True)
class Replayed:
    offset: int
    partition: int
    event_id: str
    reason: str


async def replay_dead_letters(
    kafka: KafkaSettings,
    topic: str,
    *,
    dry_run: bool = False,
    limit: int | None = None,
    idle_seconds: float = 3.0,
) -> list[Replayed]:
    """Republish the dead letters of `topic` not replayed before; return what was (or would be) sent."""
    source = kafka.topic(dead_letter_topic(topic))
    options = kafka_connection_options(kafka)
    consumer = AIOKafkaConsumer(
        source,
        group_id=f"{kafka.topic_prefix}{REPLAY_GROUP}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **options,
    )
    producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **options)
    await consumer.start()
    await producer.start()
    replayed: list[Replayed] = []
    try:
        while limit is None or len(replayed) < limit:
            batch = await consumer.getmany(timeout_ms=int(idle_seconds * 1000), max_records=1)
            if not batch:
                break
            ((partition, (record,)),) = batch.items()
            headers = {name: value for name, value in record.headers or ()}
            target = headers.get(DLQ_HEADERS.original_topic, b"").decode() or kafka.topic(topic)
            replayed.append(
                Replayed(
                    offset=record.offset,
                    partition=record.partition,
                    event_id=headers.get("ce_id", b"").decode(),
                    reason=headers.get(DLQ_HEADERS.reason, b"").decode(),
                )
            )
            if dry_run:
                continue
            original = [(k, v) for k, v in record.headers or () if not DLQ_HEADERS.added_by_dead_letter(k)]
            await producer.send_and_wait(target, value=record.value, key=record.key, headers=original)
            await consumer.commit({TopicPartition(partition.topic, partition.partition): record.offset + 1})
    finally:
        await producer.stop()
        await consumer.stop()
    return replayed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replay dead letters of a Carepath topic.")
    parser.add_argument("topic", help="the original topic, e.g. session-booked")
    parser.add_argument("--dry-run", action="store_true", help="list what would be replayed; change nothing")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    results = asyncio.run(
        replay_dead_letters(KafkaSettings(), args.topic, dry_run=args.dry_run, limit=args.limit)
    )
    verb = "would replay" if args.dry_run else "replayed"
    for item in results:
        print(f"{verb} partition {item.partition} offset {item.offset} ce_id {item.event_id} ({item.reason})")
    print(f"{len(results)} dead letter(s) {verb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
