"""CloudEvents 1.0 in the Kafka protocol binding, binary content mode (DESIGN §3).

The attributes travel as `ce_*` record headers and the record value is the event data
as JSON. `correlation_id` names the journey (set at intake submission and carried by
every event that follows); `causation_id` is the `ce_id` of the event that caused this one;
`ce_dataschema` is the `$id` of the data's JSON Schema, so a consumer in any language can
find the schema an event claims to follow.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from pydantic import BaseModel

from .registry import EventSpec, spec_for

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

EVENT_ID_SECRET_VARIABLE = "CAREPATH_EVENT_ID_SECRET"  # noqa: S105 - a name, not a secret
"""The per-deployment key of derived ids: every replica of every service must share it."""

DEVELOPMENT_EVENT_ID_SECRET = "carepath-local-event-id-secret-do-not-use-in-production"  # noqa: S105
"""Used when `CAREPATH_EVENT_ID_SECRET` is unset; published, so production refuses it."""


class EnvelopeError(ValueError):
    """A record's headers do not form a valid Carepath CloudEvent."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """The CloudEvents attributes of one event, plus journey correlation."""

    id: str
    source: str
    type: str
    time: datetime
    subject: str
    correlation_id: str
    causation_id: str | None = None
    specversion: str = SPEC_VERSION
    dataschema: str | None = None
    """The data's JSON Schema `$id`: set on every event; absent on causes that are not events
    (a command, a timer firing)."""

    def to_headers(self) -> dict[str, str]:
        headers = {
            "ce_specversion": self.specversion,
            "ce_id": self.id,
            "ce_source": self.source,
            "ce_type": self.type,
            "ce_time": _rfc3339(self.time),
            "ce_subject": self.subject,
            "content-type": CONTENT_TYPE,
            "correlation_id": self.correlation_id,
        }
        if self.dataschema:
            headers["ce_dataschema"] = self.dataschema
        if self.causation_id:
            headers["causation_id"] = self.causation_id
        return headers

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Envelope:
        """Read the attributes back; raise `EnvelopeError` naming the first bad header."""
        missing = [
            name
            for name in ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject")
            if not headers.get(name)
        ]
        if missing:
            raise EnvelopeError(f"missing CloudEvents header(s): {', '.join(missing)}")
        if headers["ce_specversion"] != SPEC_VERSION:
            raise EnvelopeError(f"unsupported ce_specversion {headers['ce_specversion']!r}")
        try:
            uuid.UUID(headers["ce_id"])
        except ValueError as exc:
            raise EnvelopeError("ce_id is not a UUID") from exc
        try:
            time = datetime.fromisoformat(headers["ce_time"])
        except ValueError as exc:
            raise EnvelopeError("ce_time is not an RFC 3339 timestamp") from exc
        if time.tzinfo is None:
            raise EnvelopeError("ce_time has no UTC offset")
        return cls(
            id=headers["ce_id"],
            source=headers["ce_source"],
            type=headers["ce_type"],
            time=time.astimezone(UTC),
            subject=headers["ce_subject"],
            # An event from outside the system starts its own journey.
            correlation_id=headers.get("correlation_id") or headers["ce_id"],
            causation_id=headers.get("causation_id") or None,
            dataschema=headers.get("ce_dataschema") or None,
        )


@dataclass(frozen=True, slots=True)
class OutgoingEvent:
    """An event ready to be stored in an outbox and published: envelope, topic, key, data."""

    spec: EventSpec
    envelope: Envelope
    data: BaseModel

    @property
    def topic(self) -> str:
        return self.spec.topic

    @property
    def key(self) -> str:
        return self.spec.key_of(self.data)

    def value(self) -> bytes:
        return self.data.model_dump_json().encode()


def event_id_secret() -> str:
    """This deployment's key for derived ids: `CAREPATH_EVENT_ID_SECRET`, or the development one.

    Read from the environment at each derivation (no state to configure, so a test, a tool and
    every service process derive alike); `shared.security.production` refuses the development
    value, a short one, or none, in production.
    """
    return os.environ.get(EVENT_ID_SECRET_VARIABLE) or DEVELOPMENT_EVENT_ID_SECRET


def deterministic_event_id(*parts: str, secret: str | None = None) -> str:
    """An id that stable parts, e.g. (cause id, event name) or (timer id, due time), always give.

    A redelivered cause or a re-fired timer yields the same id, so consumers' inboxes see the
    duplicate for what it is; and the same everywhere, so ids agree across replicas and restarts.
    It is an HMAC-SHA256 of the parts under this deployment's secret (`event_id_secret`), laid
    out as a UUIDv8 (RFC 9562, custom): a namespace committed in the source would let anyone
    who can write to Kafka compute a genuine event's id before it exists and publish a forgery
    under it, and the inboxes would then drop the genuine event as a duplicate.
    """
    key = (secret or event_id_secret()).encode()
    digest = hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).digest()
    value = int.from_bytes(digest[:16], "big")
    value = (value & ~(0xF << 76)) | (0x8 << 76)  # version 8
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return str(uuid.UUID(int=value))


def new_event(
    data: BaseModel,
    *,
    source: str | None = None,
    cause: Envelope | None = None,
    correlation_id: str | None = None,
    event_id: str | None = None,
    discriminator: str = "",
    now: datetime | None = None,
) -> OutgoingEvent:
    """Wrap event data in its envelope.

    With a `cause`, the journey's correlation id is carried over, `causation_id` points at
    the cause, and the id is derived from the cause so that handling the same cause twice
    produces the very same event (exactly once in effect downstream). `discriminator`
    tells apart several events of one type caused by one event. `source` defaults to the
    event's producer in the registry: consumers dead-letter any other (`unexpected_source`).
    """
    spec = spec_for(type(data))
    if event_id is None:
        event_id = (
            deterministic_event_id(cause.id, spec.name, discriminator)
            if cause is not None
            else str(uuid.uuid4())
        )
    if correlation_id is None:
        correlation_id = cause.correlation_id if cause is not None else event_id
    envelope = Envelope(
        id=event_id,
        source=_source(source, spec),
        type=spec.type,
        time=(now or datetime.now(UTC)).astimezone(UTC),
        subject=spec.key_of(data),
        correlation_id=correlation_id,
        causation_id=cause.id if cause is not None else None,
        dataschema=spec.dataschema,
    )
    return OutgoingEvent(spec=spec, envelope=envelope, data=data)


def _source(source: str | None, spec: EventSpec) -> str:
    """`/carepath/<service>` from a service's name; the registry's producer when none is given."""
    if source is None:
        return spec.source
    return source if source.startswith("/") else f"/carepath/{source}"


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("event time must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def command_cause(
    service: str, kind: str, *parts: str, subject: str, correlation_id: str | None, now: datetime
) -> Envelope:
    """What an HTTP request does, given the cause an event would give a handler.

    A request has no event behind it, but its effects need what an envelope gives: an id
    to derive the ids of its effects from (a retried request makes the very same records
    and events, not new ones) and the journey's correlation id to carry on. The id derives
    from the request's meaning (`kind` and `parts`: decline this match, switch from this
    one), so the same request made twice is recognised as one.
    """
    command_id = deterministic_event_id(f"{service}-command", kind, *parts)
    return Envelope(
        id=command_id,
        source=f"/carepath/{service}",
        type=f"carepath.{service}.{kind}",
        time=now,
        subject=subject,
        correlation_id=correlation_id or command_id,
    )


def follow_up(cause: Envelope, step: str) -> Envelope:
    """`cause` for a second write it leads to, under an id of its own derived from both.

    A store records the cause of each write and lets a cause write once, so that a
    redelivery changes nothing twice; a handler that must write again for the same event
    (it learned, from its first write, of something another replica stored meanwhile)
    names that write's `step`. Redelivered, the follow-up is recognised like any cause.
    """
    return replace(cause, id=deterministic_event_id("follow-up", cause.id, step))
