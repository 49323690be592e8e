"""The transactional outbox, kept inside the document it belongs to (DESIGN §4).

MongoDB's atomic unit on the common subset is one document, so a state change and the
events it causes are written in the same single-document operation: pending events sit
in the document's `_outbox` map (keyed by event id) and `_outbox_pending` counts them.
The relay takes the document's lease (`locks.py`, the same one writers take), publishes
its pending events in order, waits for the broker's confirmation, and only then removes
them. A crash anywhere loses nothing: an unpublished entry stays pending; an entry
published but not yet removed is published again with the same `ce_id`, which
consumers' inboxes discard.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.background import Pacer
from shared.events.envelope import OutgoingEvent
from shared.observability.logs import get_logger
from shared.observability.metrics import EVENTS_PUBLISHED, OUTBOX_LAG_SECONDS, OUTBOX_PUBLISH_FAILURES
from shared.storage import Document
from shared.storage.locks import Locks, document_lock

OUTBOX = "_outbox"
OUTBOX_PENDING = "_outbox_pending"
CANDIDATE_BATCH = 100

log = get_logger(__name__)


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
    milliseconds); writes to one document are serialised by its lease.
    """
    global _last_order
    _last_order = max(time.time_ns() // 1000, _last_order + 1)
    return _last_order


def outbox_entries(events: Sequence[OutgoingEvent]) -> dict[str, Document]:
    """Stored form of `events`, keyed by event id, in the order given."""
    return {
        event.envelope.id: {
            "topic": event.topic,
            "key": event.key,
            "headers": event.envelope.to_headers(),
            "value": event.value().decode(),
            "at": event.envelope.time,
            "order": _next_order(),
        }
        for event in events
    }


def outbox_update(events: Sequence[OutgoingEvent], update: Mapping[str, Any] | None = None) -> Document:
    """Merge pending `events` into an update document (`$set` entries, `$inc` the count).

    For writers that already hold the document's lease (timers); services use
    `DocumentStore.update`, which takes it for them.
    """
    merged: Document = {op: dict(fields) for op, fields in (update or {}).items()}
    sets = merged.setdefault("$set", {})
    for event_id, entry in outbox_entries(events).items():
        sets[f"{OUTBOX}.{event_id}"] = entry
    if events:
        incs = merged.setdefault("$inc", {})
        incs[OUTBOX_PENDING] = incs.get(OUTBOX_PENDING, 0) + len(events)
    return merged


def with_outbox(document: Mapping[str, Any], events: Sequence[OutgoingEvent]) -> Document:
    """A new document carrying pending `events`, for `insert_one`."""
    return {**document, OUTBOX: outbox_entries(events), OUTBOX_PENDING: len(events)}


async def ensure_outbox_index(collection: AsyncCollection[Document]) -> None:
    await collection.create_index([(OUTBOX_PENDING, 1)], name="outbox_pending")


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

    Any number of replicas may run relays: a document is relayed only under its lease,
    so one document's events are published by one relay at a time, in order, and never
    while a service is changing that document.
    """

    def __init__(
        self,
        collections: Sequence[AsyncCollection[Document]],
        publish: Publish,
        locks: Locks,
        *,
        owner: str,
        lease_seconds: float = 30.0,
        poll_interval_seconds: float = 0.5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._collections = list(collections)
        self._publish = publish
        self._locks = locks
        self._owner = owner
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock
        self._pacer = Pacer(poll_interval_seconds)

    def watch(self, collections: Sequence[AsyncCollection[Document]]) -> None:
        """Relay these collections (a runtime knows them all only once its stores are made)."""
        self._collections = list(collections)

    def notify(self) -> None:
        """Ask the relay to look now rather than at its next poll (after a local write)."""
        self._pacer.nudge()

    def stop(self) -> None:
        """Finish the current pass and return from `run()`."""
        self._pacer.stop()

    async def relay_once(self) -> int:
        """Publish everything pending now and not held by another writer; return how many.

        One sweep per collection in `_id` order visits each document at most once; one
        held by a writer or another relay, or changed meanwhile, waits for the next pass.
        """
        published = 0
        for collection in self._collections:
            after: Any = None
            while candidates := await self._pending_ids(collection, after):
                for document_id in candidates:
                    published += await self._relay_document(collection, document_id)
                after = candidates[-1]
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

    async def _pending_ids(self, collection: AsyncCollection[Document], after: Any) -> list[Any]:
        """The next batch of documents with pending events, by `_id`; each is then leased."""
        query: Document = {OUTBOX_PENDING: {"$gt": 0}}
        if after is not None:
            query["_id"] = {"$gt": after}
        cursor = collection.find(query, {"_id": 1}).sort("_id", 1).limit(CANDIDATE_BATCH)
        return [document["_id"] async for document in cursor]

    async def _relay_document(self, collection: AsyncCollection[Document], document_id: Any) -> int:
        lease = await self._locks.try_acquire(
            document_lock(collection, document_id), self._owner, self._lease
        )
        if lease is None:
            return 0  # a writer or another relay holds it
        try:
            document = await collection.find_one({"_id": document_id})
            return 0 if document is None else await self._publish_document(collection, document)
        finally:
            await self._locks.release(lease)

    async def _publish_document(self, collection: AsyncCollection[Document], document: Document) -> int:
        """Publish the document's entries in order, then remove the confirmed ones in one write."""
        sent: list[str] = []
        try:
            for event in _pending_events(document):
                OUTBOX_LAG_SECONDS.set(max(0.0, (self._clock() - event.at).total_seconds()))
                await self._publish(event)
                EVENTS_PUBLISHED.labels(event.topic).inc()
                sent.append(event.event_id)
                log.debug("outbox event published", event_id=event.event_id, topic=event.topic)
        finally:
            # Also after a failed publish: what the broker confirmed is marked sent.
            if sent:
                await collection.update_one(
                    {"_id": document["_id"]},
                    {"$unset": {f"{OUTBOX}.{i}": "" for i in sent}, "$inc": {OUTBOX_PENDING: -len(sent)}},
                )
        return len(sent)
