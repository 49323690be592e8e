"""Dead letters: a message that can never succeed goes to `<topic>.dlq` (DESIGN §4).

The dead letter keeps the original key and value byte for byte, the original headers, and adds
`dlq_*` headers with the reason, so an operator can read, fix and replay it. Its publish
is confirmed by the broker before the original offset may be committed.

`dlq_error` is written from the exception itself (`dead_letter_error`), never from a
caller's text: the error's type, a refusal's code, the field paths of a validation error.
An exception's message may quote the record's data (health information), so it never
travels; the record itself is in the dead letter for whoever may read it.
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
from shared.refusals import Refused

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


def dead_letter_error(error: BaseException) -> str:
    """`dlq_error` for `error`: `Conflict: check_in_of_another_client`, `ValidationError: client_id`.

    A command's refusal says its code (and the fields it names); anything else says what
    `records.describe_error` says: the type, and field paths or header names.
    """
    if isinstance(error, Refused):
        fields = [problem.field for problem in error.errors] or ([error.field] if error.field else [])
        paths = records.validation_error_paths(path.split(".") for path in fields)
        said = [part for part in (error.code, error.reason) if part] + (
            [f"fields {', '.join(paths)}"] if paths else []
        )
        return f"{type(error).__name__}: {'; '.join(said)}" if said else type(error).__name__
    return records.describe_error(error)


class DeadLetters:
    def __init__(self, broker: KafkaBroker, *, consumer: str) -> None:
        self._broker = broker
        self._consumer = consumer

    async def send(self, record: Any, *, reason: str, error: BaseException, attempts: int) -> None:
        """Write `record` (an aiokafka ConsumerRecord) to its topic's dead-letter topic.

        `error` is the exception itself, so what the header says is decided here, once.
        """
        headers = {name: value.decode("utf-8", "replace") for name, value in record.headers or ()}
        headers.update(
            {
                DLQ_HEADERS.reason: reason,
                DLQ_HEADERS.error: dead_letter_error(error)[:MAX_ERROR_LENGTH],
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
