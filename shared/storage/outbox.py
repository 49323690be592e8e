"""The transactional outbox, kept inside the aggregate's own document (DESIGN §4).

MongoDB's atomic unit on the common subset is one document, so a state change and the
events it causes are written in the same single-document operation: pending events sit
in the document's `_outbox` map (keyed by event id) and `_outbox_pending` counts them.
The relay claims a document with a lease, publishes its pending events in order, waits
for the broker's confirmation, and only then removes each entry. A crash anywhere loses
nothing: an unpublished entry stays pending; an entry published but not yet removed is
published again with the same `ce_id`, which consumers' inboxes discard.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from shared.background import Pacer
from shared.events.envelope import OutgoingEvent
from shared.observability.logs import get_logger
from shared.observability.metrics import EVENTS_PUBLISHED, OUTBOX_LAG_SECONDS, OUTBOX_PUBLISH_FAILURES

OUTBOX = "_outbox"
PENDING = "_outbox_pending"
LEASE = "_outbox_lease"
OWNER = "_outbox_owner"

log = get_logger(__name__)

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """One stored outbox entry, as the relay reads it back."""

    event_id: str
    topic: str
    key: str
    headers: dict[str, str]
    value: bytes
    at: datetime
    order: int


Publish = Callable[[PendingEvent], Awaitable[None]]
"""Publishes one entry and returns only once the broker has confirmed it (acks=all)."""


_last_order = 0


def _next_order() -> int:
    """Microseconds since the epoch, strictly increasing within this process.

    Orders one document's entries across writes (MongoDB datetimes keep only
    milliseconds). Writes to one document from two replicas within the clocks' skew
    could still swap; one client's events are written by one aggregate in practice.
    """
    global _last_order
    _last_order = max(time.time_ns() // 1000, _last_order + 1)
    return _last_order


def _entry(event: OutgoingEvent) -> Document:
    return {
        "topic": event.topic,
        "key": event.key,
        "headers": event.envelope.to_headers(),
        "value": event.value().decode(),
        "at": event.envelope.time,
        "order": _next_order(),
    }


def outbox_update(events: Sequence[OutgoingEvent], update: Mapping[str, Any] | None = None) -> Document:
    """Merge pending `events` into an update document (`$set` entries, `$inc` the count).

    Use it in the same `update_one`/`find_one_and_update` that changes the state.
    """
    merged: Document = {op: dict(fields) for op, fields in (update or {}).items()}
    sets = merged.setdefault("$set", {})
    for event in events:
        sets[f"{OUTBOX}.{event.envelope.id}"] = _entry(event)
    if events:
        incs = merged.setdefault("$inc", {})
        incs[PENDING] = incs.get(PENDING, 0) + len(events)
    return merged


def with_outbox(document: Mapping[str, Any], events: Sequence[OutgoingEvent]) -> Document:
    """A new document carrying pending `events`, for `insert_one`."""
    return {
        **document,
        OUTBOX: {event.envelope.id: _entry(event) for event in events},
        PENDING: len(events),
    }


async def ensure_outbox_index(collection: AsyncCollection[Document]) -> None:
    await collection.create_index([(PENDING, 1)], name="outbox_pending")


def _pending_events(document: Document) -> list[PendingEvent]:
    entries = [
        PendingEvent(
            event_id=event_id,
            topic=entry["topic"],
            key=entry["key"],
            headers=dict(entry["headers"]),
            value=entry["value"].encode(),
            at=entry["at"],
            order=entry["order"],
        )
        for event_id, entry in (document.get(OUTBOX) or {}).items()
    ]
    return sorted(entries, key=lambda e: e.order)


class OutboxRelay:
    """Publishes pending outbox entries of the given collections and marks them sent.

    Several replicas may run relays at once: each document is claimed with a lease, so one
    document's events are published by one relay at a time, in order.
    """

    def __init__(
        self,
        collections: Sequence[AsyncCollection[Document]],
        publish: Publish,
        *,
        owner: str,
        lease_seconds: float = 30.0,
        poll_interval_seconds: float = 0.5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._collections = list(collections)
        self._publish = publish
        self._owner = owner
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock
        self._pacer = Pacer(poll_interval_seconds)

    def notify(self) -> None:
        """Ask the relay to look now rather than at its next poll (after a local write)."""
        self._pacer.nudge()

    def stop(self) -> None:
        """Finish the current pass and return from `run()`."""
        self._pacer.stop()

    async def relay_once(self) -> int:
        """Publish everything pending now; return how many events were confirmed."""
        published = 0
        for collection in self._collections:
            while (document := await self._claim(collection)) is not None:
                published += await self._publish_document(collection, document)
        return published

    async def run(self) -> None:
        """Relay until `stop()`, waking on `notify()` or every poll interval."""
        backoff = self._pacer.interval_seconds
        while not self._pacer.stopped:
            try:
                await self.relay_once()
                backoff = self._pacer.interval_seconds
            except Exception:
                OUTBOX_PUBLISH_FAILURES.inc()
                log.exception("outbox relay pass failed; will retry")
                backoff = min(backoff * 2, 30.0)
            await self._pacer.pause(backoff)

    async def _claim(self, collection: AsyncCollection[Document]) -> Document | None:
        now = self._clock()
        return await collection.find_one_and_update(
            {
                PENDING: {"$gt": 0},
                "$or": [{LEASE: {"$exists": False}}, {LEASE: {"$lt": now}}],
            },
            {"$set": {LEASE: now + self._lease, OWNER: self._owner}},
            return_document=ReturnDocument.AFTER,
        )

    async def _publish_document(self, collection: AsyncCollection[Document], document: Document) -> int:
        published = 0
        try:
            for event in _pending_events(document):
                OUTBOX_LAG_SECONDS.set(max(0.0, (self._clock() - event.at).total_seconds()))
                started = time.monotonic()
                await self._publish(event)
                EVENTS_PUBLISHED.labels(event.topic).inc()
                await collection.update_one(
                    {"_id": document["_id"], f"{OUTBOX}.{event.event_id}": {"$exists": True}},
                    {"$unset": {f"{OUTBOX}.{event.event_id}": ""}, "$inc": {PENDING: -1}},
                )
                published += 1
                log.debug(
                    "outbox event published",
                    event_id=event.event_id,
                    topic=event.topic,
                    seconds=round(time.monotonic() - started, 4),
                )
        finally:
            # Release the lease even when a publish failed, so the next pass retries at once.
            await collection.update_one(
                {"_id": document["_id"], OWNER: self._owner},
                {"$unset": {LEASE: "", OWNER: ""}},
            )
        return published
