"""The cause of what an HTTP request does, shaped like an event's envelope.

A request has no event behind it, but its effects need what an event's envelope gives a
handler: an id to derive the ids of its effects from (a retried request makes the very
same proposal and events, not new ones), and the journey's correlation id to carry on.
The id derives from the request's meaning (decline this match, switch from this one), so
the same request made twice is recognised as one.
"""

from __future__ import annotations

from datetime import datetime

from shared.events.envelope import Envelope, deterministic_event_id


def command_cause(
    kind: str, *parts: str, subject: str, correlation_id: str | None, now: datetime, source: str
) -> Envelope:
    command_id = deterministic_event_id("matching-command", kind, *parts)
    return Envelope(
        id=command_id,
        source=source if source.startswith("/") else f"/carepath/{source}",
        type=f"carepath.matching.{kind}",
        time=now,
        subject=subject,
        correlation_id=correlation_id or command_id,
    )
