"""Event contracts that cross service boundaries: data models, envelope, topic registry.

This folder is also the `carepath-events` distribution (`packages/carepath-events/`),
imported there as `carepath_events`: its modules import one another relatively and
depend on pydantic and the standard library only, so platform backends can install the
models, the CloudEvents helpers and the JSON Schemas without any Carepath service.
"""

from .envelope import (
    Envelope,
    EnvelopeError,
    OutgoingEvent,
    deterministic_event_id,
    new_event,
)
from .records import (
    InvalidEvent,
    KafkaRecord,
    ReceivedEvent,
    dead_letter_headers,
    parse_event,
    to_record,
)
from .registry import EVENTS, EventSpec, all_topics, dead_letter_topic, spec_for, spec_named

__all__ = [
    "EVENTS",
    "Envelope",
    "EnvelopeError",
    "EventSpec",
    "InvalidEvent",
    "KafkaRecord",
    "OutgoingEvent",
    "ReceivedEvent",
    "all_topics",
    "dead_letter_headers",
    "dead_letter_topic",
    "deterministic_event_id",
    "new_event",
    "parse_event",
    "spec_for",
    "spec_named",
    "to_record",
]
