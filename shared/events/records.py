"""A Kafka record and a Carepath event, both ways: what a consumer parses, what a producer sends.

Binary content mode (DESIGN §3): the CloudEvents attributes are record headers, the
value is the event data as JSON and the key is the client (or therapist) id.
`parse_event` is what a consumer does before its handler runs: read the envelope, check
that its type and source are the ones of the event's topic, validate the data with the
event's model. A record it refuses can never become valid by being read again, so
`InvalidEvent` means "dead-letter it and move on", never "retry"; `dead_letter_headers`
gives such a record the same `dlq_*` headers Carepath's own consumers write.

This module is part of the `carepath-events` distribution (`carepath_events.records`):
it depends on pydantic and the standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar, overload

from pydantic import BaseModel, ValidationError

from .envelope import Envelope, EnvelopeError, OutgoingEvent
from .registry import EventSpec, spec_for, spec_named

M = TypeVar("M", bound=BaseModel)

Headers = Mapping[str, str | bytes | None] | Iterable[tuple[str, str | bytes | None]]
"""Record headers as clients give them: FastStream's `dict[str, str]` or aiokafka's
`[(name, bytes)]`."""

InvalidReason = Literal["invalid_envelope", "unexpected_type", "unexpected_source", "invalid_data"]

DLQ_REASON = "dlq_reason"
DLQ_ERROR = "dlq_error"
DLQ_CONSUMER = "dlq_consumer"
DLQ_ATTEMPTS = "dlq_attempts"
DLQ_FAILED_AT = "dlq_failed_at"
DLQ_ORIGINAL_TOPIC = "dlq_original_topic"
DLQ_ORIGINAL_PARTITION = "dlq_original_partition"
DLQ_ORIGINAL_OFFSET = "dlq_original_offset"

MAX_ERROR_LENGTH = 2000


class InvalidEvent(ValueError):
    """A record that is not, and never will be, a valid Carepath event of its topic.

    `reason` is a code for metrics and the dead letter; `detail` names headers and field
    paths only, never values, because event data is health information.
    """

    def __init__(self, reason: InvalidReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: InvalidReason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ReceivedEvent(Generic[M]):
    """A parsed record: its registry entry, CloudEvents attributes and validated data."""

    spec: EventSpec
    envelope: Envelope
    data: M


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """What a producer sends for one event: topic, key, value and headers."""

    topic: str
    key: bytes
    value: bytes
    headers: dict[str, str]

    def header_list(self) -> list[tuple[str, bytes]]:
        """The headers as aiokafka takes them (FastStream takes `headers` as they are)."""
        return [(name, value.encode()) for name, value in self.headers.items()]


@overload
def parse_event(event: type[M], headers: Headers, value: bytes | str | None) -> ReceivedEvent[M]: ...


@overload
def parse_event(event: str, headers: Headers, value: bytes | str | None) -> ReceivedEvent[BaseModel]: ...


def parse_event(event: type[M] | str, headers: Headers, value: bytes | str | None) -> ReceivedEvent[Any]:
    """Read a record of `event`'s topic (its model, or its name: the topic without prefix).

    Raises `InvalidEvent` for a record that can never be this event: headers that are not a
    Carepath CloudEvent, another event's `ce_type`, a `ce_source` other than the topic's
    producer (DESIGN §8), or data its model refuses. An unknown event name is the caller's
    mistake and raises `LookupError`.
    """
    spec = _spec_of(event)
    try:
        envelope = Envelope.from_headers(_text_headers(headers))
    except EnvelopeError as exc:
        raise InvalidEvent("invalid_envelope", str(exc)) from exc
    if envelope.type != spec.type:
        raise InvalidEvent("unexpected_type", f"ce_type {envelope.type!r} is not {spec.type!r}")
    if envelope.source != spec.source:
        raise InvalidEvent("unexpected_source", f"ce_source {envelope.source!r} is not {spec.source!r}")
    if not value:
        raise InvalidEvent("invalid_data", "the record has no value")
    try:
        data = spec.model.model_validate_json(value)
    except ValidationError as exc:
        raise InvalidEvent("invalid_data", describe_validation_error(exc)) from exc
    return ReceivedEvent(spec=spec, envelope=envelope, data=data)


def to_record(event: OutgoingEvent, *, topic_prefix: str = "") -> KafkaRecord:
    """The record that carries `event` (made by `new_event`) on its topic."""
    return KafkaRecord(
        topic=f"{topic_prefix}{event.topic}",
        key=event.key.encode(),
        value=event.value(),
        headers=event.envelope.to_headers(),
    )


def dead_letter_headers(
    headers: Headers,
    error: InvalidEvent,
    *,
    consumer: str,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    now: datetime | None = None,
) -> dict[str, str]:
    """The original headers plus Carepath's `dlq_*` headers, for a record `parse_event` refused.

    Publish the record's key and value unchanged with these headers to your dead-letter
    topic, then commit: the partition moves on and an operator can read, fix and replay it.
    """
    dead = {name: text for name, text in _decoded(headers, errors="replace")}
    dead.update(
        {
            DLQ_REASON: error.reason,
            DLQ_ERROR: error.detail[:MAX_ERROR_LENGTH],
            DLQ_CONSUMER: consumer,
            DLQ_ATTEMPTS: "0",
            DLQ_FAILED_AT: (now or datetime.now(UTC)).astimezone(UTC).isoformat(),
        }
    )
    origin = {DLQ_ORIGINAL_TOPIC: topic, DLQ_ORIGINAL_PARTITION: partition, DLQ_ORIGINAL_OFFSET: offset}
    dead.update({name: str(part) for name, part in origin.items() if part is not None})
    return dead


def describe_validation_error(error: ValidationError) -> str:
    """Field paths and messages only: never the offending values, which may be PHI."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        path = ".".join(str(p) for p in item["loc"]) or "<root>"
        parts.append(f"{path}: {item['msg']}")
    return "; ".join(parts)


def _spec_of(event: type[BaseModel] | str) -> EventSpec:
    try:
        return spec_for(event) if isinstance(event, type) else spec_named(event)
    except KeyError:
        raise LookupError(f"{event!r} is not a Carepath event") from None


def _text_headers(headers: Headers) -> dict[str, str]:
    try:
        return dict(_decoded(headers, errors="strict"))
    except UnicodeDecodeError as exc:
        raise InvalidEvent("invalid_envelope", "a header is not UTF-8 text") from exc


def _decoded(headers: Headers, *, errors: str) -> Iterable[tuple[str, str]]:
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, raw in pairs:
        if raw is None:
            continue
        yield name, raw.decode("utf-8", errors) if isinstance(raw, bytes) else raw
