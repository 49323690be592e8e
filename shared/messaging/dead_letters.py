"""Dead letters: a message that can never succeed goes to `<topic>.dlq` (DESIGN §4).

The dead letter keeps the original key and value byte for byte, the original headers, and adds
`dlq_*` headers with the reason, so an operator can read, fix and replay it. Its publish
is confirmed by the broker before the original offset may be committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from faststream.kafka import KafkaBroker

from shared.events import records
from shared.events.registry import dead_letter_topic
from shared.observability.logs import get_logger
from shared.observability.metrics import DEAD_LETTERS

log = get_logger(__name__)

MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class DeadLetterHeaderNames:
    """The headers a dead letter adds, named once: written here, read and stripped by replay."""

    prefix: ClassVar[str] = "dlq_"

    reason: str = records.DLQ_REASON
    error: str = records.DLQ_ERROR
    original_topic: str = records.DLQ_ORIGINAL_TOPIC
    original_partition: str = records.DLQ_ORIGINAL_PARTITION
    original_offset: str = records.DLQ_ORIGINAL_OFFSET
    consumer: str = records.DLQ_CONSUMER
    attempts: str = records.DLQ_ATTEMPTS
    failed_at: str = records.DLQ_FAILED_AT

    def added_by_dead_letter(self, name: str) -> bool:
        """True for the headers to drop when a dead letter goes back to its topic."""
        return name.startswith(self.prefix)


DLQ_HEADERS = DeadLetterHeaderNames()


class DeadLetters:
    def __init__(self, broker: KafkaBroker, *, consumer: str) -> None:
        self._broker = broker
        self._consumer = consumer

    async def send(self, record: Any, *, reason: str, error: str, attempts: int) -> None:
        """Write `record` (an aiokafka ConsumerRecord) to its topic's dead-letter topic."""
        headers = {name: value.decode("utf-8", "replace") for name, value in record.headers or ()}
        headers.update(
            {
                DLQ_HEADERS.reason: reason,
                DLQ_HEADERS.error: error[:MAX_ERROR_LENGTH],
                DLQ_HEADERS.original_topic: record.topic,
                DLQ_HEADERS.original_partition: str(record.partition),
                DLQ_HEADERS.original_offset: str(record.offset),
                DLQ_HEADERS.consumer: self._consumer,
                DLQ_HEADERS.attempts: str(attempts),
                DLQ_HEADERS.failed_at: datetime.now(UTC).isoformat(),
            }
        )
        await self._broker.publish(
            record.value or b"",
            topic=dead_letter_topic(record.topic),
            key=record.key,
            headers=headers,
            correlation_id=headers.get("correlation_id") or None,
        )
        DEAD_LETTERS.labels(record.topic, reason).inc()
        log.warning(
            "message dead-lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
            event_id=headers.get("ce_id"),
        )
