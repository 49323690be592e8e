"""Event contracts that cross service boundaries: data models, envelope, topic registry."""

from shared.events.envelope import (
    Envelope,
    EnvelopeError,
    OutgoingEvent,
    deterministic_event_id,
    new_event,
)
from shared.events.registry import EVENTS, EventSpec, all_topics, spec_for, spec_named

__all__ = [
    "EVENTS",
    "Envelope",
    "EnvelopeError",
    "EventSpec",
    "OutgoingEvent",
    "all_topics",
    "deterministic_event_id",
    "new_event",
    "spec_for",
    "spec_named",
]
