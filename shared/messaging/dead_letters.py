"""Dead letters: a message that can never succeed goes to `<topic>.dlq` (DESIGN §4).

The dead letter keeps the original key and value byte for byte, the original headers, and adds
`dlq_*` headers with the reason, so an operator can read, fix and replay it. Its publish
is confirmed by the broker before the original offset may be committed.

`dlq_error` is written from the exception itself (`dead_letter_error`), never from a
caller's text: the error's type, a refusal's code, the field paths of a validation error.
An exception's message may quote the record's data (health information), so it never
travels; the record itself is in the dead letter for whoever may read it.

A record bigger than `MAX_RECORD_BYTES` is the exception to "byte for byte": the broker
takes records up to about 1 MiB, and one that large plus the `dlq_*` headers is more than
the producer may send, so its dead letter could never be written and the partition would
stop at it for good. Its dead letter keeps the envelope headers (each cut short) and a
short key, not the value: the original stays on its topic at `dlq_original_offset`.
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

MAX_RECORD_BYTES = 256 * 1024
"""The most a consumer takes in one record (key, value and headers together).

Every event's lists and strings are bounded: the largest valid one (a proposal of 20
candidates) is a few tens of KiB, far below this. Anything bigger is refused unread.
"""

_KEPT_KEY_BYTES = 1024
_KEPT_HEADER_CHARS = 256


class OversizedRecord(Exception):
    """A record bigger than the consumer takes: dead-lettered unread, as `oversized_record`."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes over the {limit} limit")
        self.size = size
        self.limit = limit


def record_bytes(record: Any) -> int:
    """The size of a record as it travelled: key, value, and each header's name and value."""
    headers = sum(len(name.encode()) + len(value or b"") for name, value in record.headers or ())
    return len(record.key or b"") + len(record.value or b"") + headers


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
    if isinstance(error, OversizedRecord):
        return f"OversizedRecord: {error.size} bytes, more than {error.limit}"  # sizes only
    return records.describe_error(error)


class DeadLetters:
    def __init__(
        self, broker: KafkaBroker, *, consumer: str, max_record_bytes: int = MAX_RECORD_BYTES
    ) -> None:
        self._broker = broker
        self._consumer = consumer
        self._max_record_bytes = max_record_bytes

    async def send(self, record: Any, *, reason: str, error: BaseException, attempts: int) -> None:
        """Write `record` (an aiokafka ConsumerRecord) to its topic's dead-letter topic.

        `error` is the exception itself, so what the header says is decided here, once. A
        record over the size limit goes without its value (see the module's docstring).
        """
        oversized = record_bytes(record) > self._max_record_bytes
        headers = _kept_headers(record, oversized=oversized)
        value = b"" if oversized else record.value or b""
        key = None if oversized and len(record.key or b"") > _KEPT_KEY_BYTES else record.key
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
            value,
            topic=dead_letter_topic(record.topic),
            key=key,
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


def _kept_headers(record: Any, *, oversized: bool) -> dict[str, str]:
    """The original headers as text (a null one empty); of an oversized record, its envelope's, cut short."""
    headers = {name: (value or b"").decode("utf-8", "replace") for name, value in record.headers or ()}
    if not oversized:
        return headers
    return {
        name: text[:_KEPT_HEADER_CHARS] for name, text in headers.items() if name in records.ENVELOPE_HEADERS
    }
