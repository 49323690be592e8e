"""A Kafka record and a Carepath event, both ways: what a consumer parses, what a producer sends.

Binary content mode (DESIGN §3): the CloudEvents attributes are record headers, the
value is the event data as JSON and the key is the client (or therapist) id.
`parse_event` is what a consumer does before its handler runs: read the envelope, check
that its type and source are the ones of the event's topic, validate the data with the
event's model. A record it refuses can never become valid by being read again, so
`InvalidEvent` means "dead-letter it and move on", never "retry"; `dead_letter_headers`
gives such a record the same `dlq_*` headers Carepath's own consumers write.

What a dead letter says went wrong (`dlq_error`, `describe_error`) names the error's type
and the headers or field paths at fault, never a value and never the text of an arbitrary
exception: a record's data is health information, and a validation message can quote it.

This module is part of the `carepath-events` distribution (`carepath_events.records`):
it depends on pydantic and the standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
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

ENVELOPE_HEADERS = (
    "ce_specversion",
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_time",
    "ce_subject",
    "ce_dataschema",
    "content-type",
    "correlation_id",
    "causation_id",
)
"""The headers an envelope error may name: the only words `describe_error` takes from its text."""

_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


class InvalidEvent(ValueError):
    """A record that is not, and never will be, a valid Carepath event of its topic.

    `reason` is a code for metrics and the dead letter; `detail` names headers and field
    paths only, never values (not even a header's), because event data is health
    information: it is what the dead letter's `dlq_error` says.
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
        raise InvalidEvent("invalid_envelope", describe_error(exc)) from exc
    if envelope.type != spec.type:
        raise InvalidEvent("unexpected_type", f"ce_type is not {spec.type}")
    if envelope.source != spec.source:
        raise InvalidEvent("unexpected_source", f"ce_source is not {spec.source}")
    if not value:
        raise InvalidEvent("invalid_data", "the record has no value")
    try:
        data = spec.model.model_validate_json(value)
    except ValidationError as exc:
        raise InvalidEvent("invalid_data", describe_error(exc)) from exc
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
            DLQ_ERROR: describe_error(error)[:MAX_ERROR_LENGTH],
            DLQ_CONSUMER: consumer,
            DLQ_ATTEMPTS: "0",
            DLQ_FAILED_AT: (now or datetime.now(UTC)).astimezone(UTC).isoformat(),
        }
    )
    origin = {DLQ_ORIGINAL_TOPIC: topic, DLQ_ORIGINAL_PARTITION: partition, DLQ_ORIGINAL_OFFSET: offset}
    dead.update({name: str(part) for name, part in origin.items() if part is not None})
    return dead


def describe_error(error: BaseException) -> str:
    """What a dead letter says went wrong: `ValidationError: payload.client_id, payload.score`.

    The error's type, and the field paths of a validation error or the headers of an
    envelope error; an `InvalidEvent` says its (value-free) detail. Never the text of any
    other exception: a message may quote the data it choked on.
    """
    if isinstance(error, InvalidEvent):
        return error.detail
    if isinstance(error, ValidationError):
        return describe_validation_error(error)
    if isinstance(error, EnvelopeError):
        return _named(type(error).__name__, _headers_named_in(str(error)))
    return type(error).__name__


def describe_validation_error(error: ValidationError) -> str:
    """`ValidationError: <path>, <path>`: the fields at fault, never their values or messages."""
    return _named("ValidationError", validation_error_paths(error))


def validation_error_paths(error: ValidationError | Iterable[Sequence[object]]) -> list[str]:
    """The dotted path of each field a validation error names (or of each given `loc`), once.

    A segment that is not a field name or a position (a mapping key from the input, which
    may be anything the sender wrote) shows as `*`.
    """
    if isinstance(error, ValidationError):
        locations: Iterable[Sequence[object]] = (
            item["loc"]
            for item in error.errors(include_input=False, include_url=False, include_context=False)
        )
    else:
        locations = error
    paths = (".".join(_segment(part) for part in loc) or "<root>" for loc in locations)
    return list(dict.fromkeys(paths))


def _segment(part: object) -> str:
    if isinstance(part, int) and not isinstance(part, bool):
        return str(part)
    return part if isinstance(part, str) and _FIELD_NAME.match(part) else "*"


def _headers_named_in(message: str) -> list[str]:
    """The envelope headers a message names, outside its quoted values; nothing else of it."""
    unquoted = _QUOTED.sub(" ", message)
    return [
        name for name in ENVELOPE_HEADERS if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", unquoted)
    ]


def _named(error_type: str, names: Sequence[str]) -> str:
    return f"{error_type}: {', '.join(names)}" if names else error_type


def _spec_of(event: type[BaseModel] | str) -> EventSpec:
    try:
        return spec_for(event) if isinstance(event, type) else spec_named(event)
    except KeyError:
        raise LookupError(f"{event!r} is not a Carepath event") from None


def _text_headers(headers: Headers) -> dict[str, str]:
    try:
        return dict(_decoded(headers, errors="strict"))
    except UnicodeDecodeError as exc:
        raise InvalidEvent("invalid_envelope", "UnicodeDecodeError: a header is not UTF-8 text") from exc


def _decoded(headers: Headers, *, errors: str) -> Iterable[tuple[str, str]]:
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, raw in pairs:
        if raw is None:
            continue
        yield name, raw.decode("utf-8", errors) if isinstance(raw, bytes) else raw
