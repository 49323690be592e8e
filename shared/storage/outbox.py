"""The transactional outbox, kept inside the document it belongs to (DESIGN §4).

MongoDB's atomic unit on the common subset is one document, so a state change and the
events it causes are written in the same single-document operation: pending events sit
in the document's `_outbox` map (keyed by event id) and `_outbox_pending` counts them.
The relay takes the document's lease (`locks.py`, the same one writers take), publishes
its pending events in order, waits for the broker's confirmation, and only then removes
them. A crash anywhere loses nothing: an unpublished entry stays pending; an entry
published but not yet removed is published again with the same `ce_id`, which
consumers' inboxes discard.

Inline relay: a `DocumentStore` write that leaves events publishes them itself while it
still holds the document's lease (`publish_held`) and removes them in one more write, so
an event goes out without the relay's lease, read and release. The relay stays for what an
inline publish could not send (the broker slow or down: inline publishing then pauses a
few seconds and leaves the work to the relay) and for what a dead replica left.

Removal later (`defer_removal`, every store's collection unless `relay_removal_delay_seconds`
is 0): an inline publish's sent entries need not go at once. The relay remembers them
(`_unremoved`) and removes them after `removal_delay_seconds`, those of many documents in one
bulk write per collection and without the document's lease, unless the store's next write of
the document, built on its copy without them, removes them first at no cost. Every store's
write checks the revision it read (a leased one too), so a copy read before such a removal
cannot store the entries again. Until then they stay in the document, so another replica
writing it would carry them along and could publish them again. Hence each entry names the
replica that wrote it (`by`), and a replica leaves alone pending entries another one wrote less
than `foreign_grace_seconds` ago (that one's inline publish, then its removal, are due within
that time) and its own events written after them: the relay looks at the document again once
they are gone or of age, and then publishes what is left, in order. A removal later drops each
entry only where it still is (`$exists`) and stores a new revision, so a copy read before it
cannot bring the entry back.

A removal of sent entries applies only to the revision they were read in (`_rev`), and
stores a new one: where another writer stored the document since (a revision-checked store
takes no lease), that writer carried the entries along and publishes and removes them itself,
so no entry is removed, and counted off, twice.

An entry also keeps, among its record headers, the W3C trace context of the span that
wrote it (`traceparent`, `tracestate`; none when tracing is off): the relay publishes it
inside a span continuing that trace, so the consumer's span joins the writer's journey
although the relay runs in another task, or another replica (`shared/observability/tracing.py`).
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import bson
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from shared.background import Pacer, SweepSchedule
from shared.events.envelope import OutgoingEvent
from shared.observability.logs import get_logger
from shared.observability.metrics import EVENTS_PUBLISHED, OUTBOX_LAG_SECONDS, OUTBOX_PUBLISH_FAILURES
from shared.observability.tracing import CORRELATION_ID, continued, trace_headers
from shared.storage import Document
from shared.storage.bulk import Coalesced
from shared.storage.locks import Held, Locks, document_lock

OUTBOX = "_outbox"
OUTBOX_PENDING = "_outbox_pending"
REVISION = "_rev"
"""A token every write stores anew (`DocumentStore`), and every removal of sent entries too."""
SWEEP_BATCH = 256
BY = "by"
"""An entry's writer (the replica's instance name): see "Removal later" above."""


def new_revision() -> str:
    return os.urandom(8).hex()


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


def outbox_entries(events: Sequence[OutgoingEvent], *, by: str | None = None) -> dict[str, Document]:
    """Stored form of `events`, keyed by event id, in the order given, with the writer's trace
    context and, when given, the replica that wrote them (`by`)."""
    traced = trace_headers() if events else {}
    mark = {} if by is None else {BY: by}
    return {
        event.envelope.id: {
            "topic": event.topic,
            "key": event.key,
            "headers": {**event.envelope.to_headers(), **traced},
            "value": event.value().decode(),
            "at": event.envelope.time,
            "order": _next_order(),
            **mark,
        }
        for event in events
    }


def with_outbox(
    document: Mapping[str, Any], events: Sequence[OutgoingEvent], *, by: str | None = None
) -> Document:
    """A new document carrying pending `events`, for `insert_one`."""
    return {**document, OUTBOX: outbox_entries(events, by=by), OUTBOX_PENDING: len(events)}


async def ensure_outbox_index(collection: AsyncCollection[Document]) -> None:
    await collection.create_index([(OUTBOX_PENDING, 1)], name="outbox_pending")


ABSENT = b""
"""Handed on for a document its last holder here found absent (`DocumentStore.get(writing=True)`)."""


def hand_on_document(held: Held, document: Mapping[str, Any]) -> None:
    """Leave `document`, as stored, for the next holder of its lease in this process.

    Kept as BSON and decoded afresh by the next holder, so it gets exactly what a read would
    return (millisecond datetimes, lists for tuples) and no caller's later mutation reaches it.
    """
    held.hand_on(bson.encode(document))


def handed_document(held: Held, collection: AsyncCollection[Document]) -> Document | None:
    """The document the previous holder left, or None when it left none (read it then)."""
    if not isinstance(held.handed, bytes) or held.handed == ABSENT:
        return None
    decoded: Document = bson.decode(held.handed, codec_options=collection.codec_options)
    return decoded


def _without_sent(document: Document, sent: Sent | None) -> Document:
    """The document after the removal of `sent` entries (`_remove_sent`)."""
    if sent is None:
        return document
    remaining = {k: v for k, v in (document.get(OUTBOX) or {}).items() if k not in sent.ids}
    return {
        **document,
        OUTBOX: remaining,
        OUTBOX_PENDING: int(document.get(OUTBOX_PENDING, 0)) - len(sent.ids),
        REVISION: sent.revision,
    }


@dataclass(slots=True)
class _Unremoved:
    """Entries of one document this replica published, to remove later, and since when (monotonic)."""

    ids: set[str]
    since: float


@dataclass(frozen=True, slots=True)
class Sent:
    """Entries of a document confirmed by the broker: removed from the revision they were read
    in (`read`, None for a document stored before revisions), which then becomes `revision`."""

    ids: Sequence[str]
    read: str | None
    revision: str = field(default_factory=new_revision)


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


def _described(event: PendingEvent) -> dict[str, str]:
    """The relay span's attributes: ids and codes only."""
    return {
        "messaging.destination.name": event.topic,
        "cloudevents.event_id": event.event_id,
        "cloudevents.event_type": event.headers.get("ce_type", ""),
        CORRELATION_ID: event.headers.get("correlation_id", ""),
    }


class OutboxRelay:
    """Publishes pending outbox entries of the given collections and marks them sent.

    Any number of replicas may run relays: a document is relayed only under its lease,
    so one document's events are published by one relay at a time, in order, and never
    while a service is changing that document.

    Finding work must not scan collections on the hot path (DESIGN §5: FerretDB serves
    only a lone `_id` equality from an index). So a write tells its own replica's relay
    which document it left events in (`notify(collection, id)`), and the relay reads
    that document by `_id`. A sweep of every pending document (a scan on FerretDB, whose
    cost grows with the collection's history) catches what a replica wrote before it died:
    at start, when the runtime sees a replica's heartbeat run out (`sweep_soon`), and every
    `sweep_interval_seconds` as a safety net (hourly by default: writes hint their relay,
    publish inline, and a failed pass keeps its hints, so nothing waits on it). Several
    documents are relayed at once (`concurrency`): each one's events stay in order, and
    the broker's producer batches what is in flight.
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
        sweep_interval_seconds: float = 60.0,
        concurrency: int = 16,
        inline_timeout_seconds: float = 5.0,
        inline_pause_seconds: float = 5.0,
        removal_delay_seconds: float = 0.5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._collections = {c.name: c for c in collections}
        self._removal_delay = removal_delay_seconds
        # Another replica's entry is its own to publish and remove for this long after its write.
        self._foreign_grace = inline_timeout_seconds + removal_delay_seconds + 1.0
        self._deferring: set[str] = set()  # collections whose sent entries are removed later
        # (collection, _id) -> ids this replica published there and has not removed yet, and since when.
        self._unremoved: dict[tuple[str, Any], _Unremoved] = {}
        self._later: dict[tuple[str, str], float] = {}  # documents to look at again, and when (monotonic)
        self._inline_timeout = inline_timeout_seconds
        self._inline_pause = inline_pause_seconds
        self._inline_paused_until = 0.0
        self._publish = publish
        self._locks = locks
        self._owner = owner
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock
        self._pacer = Pacer(poll_interval_seconds)
        self._sweeps = SweepSchedule(sweep_interval_seconds)
        self._slots = asyncio.Semaphore(concurrency)
        # (collection, _id) -> `at` of the oldest entry this relay read there and has not
        # published yet: what `carepath_outbox_oldest_pending_seconds` shows after each pass.
        self._unsent_since: dict[tuple[str, Any], datetime] = {}
        self._hints: set[tuple[str, str]] = set()
        # Sent entries of documents written meanwhile go out together, per collection.
        self._removals: dict[str, Coalesced[Mapping[Any, Sent], None]] = {}

    def defer_removal(self, collection: str) -> None:
        """Remove this collection's sent entries later, together ("Removal later" above): its
        stores' writes must check the revision they read (`DocumentStore` does)."""
        self._deferring.add(collection)

    def watch(self, collections: Sequence[AsyncCollection[Document]]) -> None:
        """Relay these collections (a runtime knows them all only once its stores are made)."""
        self._collections = {c.name: c for c in collections}

    def notify(self, collection: str | None = None, document_id: str | None = None) -> None:
        """Ask the relay to look now, at the given document if named (after a local write)."""
        if collection is not None and document_id is not None:
            self._hints.add((collection, document_id))
        self._pacer.nudge()

    async def publish_held(
        self, collection: AsyncCollection[Document], documents: Sequence[Document]
    ) -> list[Document | None]:
        """Publish the pending events of `documents`, whose leases the caller holds (inline relay).

        Each document's events go out in order, the documents concurrently; then the sent
        entries of all of them are removed in one write (with those of other writes that meet
        it in flight). Returns each document as stored afterwards (still with its entries when
        inline publishing is paused), or None where a failure leaves that unknown. Entries not
        sent are the relay's: the caller hints it (`notify`).
        """
        if collection.name in self._deferring:
            return await self._publish_deferring(collection, documents)
        pending = [d for d in documents if d.get(OUTBOX_PENDING)]
        if not pending or time.monotonic() < self._inline_paused_until:
            return list(documents)
        sent: dict[Any, Sent] = {}
        try:
            async with asyncio.timeout(self._inline_timeout):
                outcomes = await asyncio.gather(*(self._send(collection, d) for d in pending))
                sent = {
                    d["_id"]: Sent(ids, d.get(REVISION))
                    for d, (ids, _) in zip(pending, outcomes, strict=True)
                    if ids
                }
                await self._mark_sent(collection, sent)
                if failure := next((error for _, error in outcomes if error is not None), None):
                    raise failure
        except Exception as exc:
            self._pause_inline(exc)
            return [None if d.get(OUTBOX_PENDING) else d for d in documents]
        return [_without_sent(d, sent.get(d["_id"])) for d in documents]

    async def _publish_deferring(
        self, collection: AsyncCollection[Document], documents: Sequence[Document]
    ) -> list[Document | None]:
        """`publish_held` for a collection whose sent entries go later: each document's unsent
        events published in order (none where another replica's young entries come first), the
        sent ones remembered for removal; each document returned as stored but without the
        entries this replica sent, which its store's next write then leaves out."""
        name = collection.name
        self._forget_removed(name, documents)
        paused = time.monotonic() < self._inline_paused_until
        sending = [
            d
            for d in documents
            if not paused and self._unsent(name, d) and self._waits_for_other(name, d) is None
        ]
        if not sending:
            return [self._without_known(name, d) for d in documents]
        try:
            async with asyncio.timeout(self._inline_timeout):
                outcomes = await asyncio.gather(*(self._send(collection, d) for d in sending))
        except Exception as exc:
            outcomes = []
            failure: Exception | None = exc
        else:
            failure = next((error for _, error in outcomes if error is not None), None)
        for document, (ids, _) in zip(sending, outcomes, strict=False):
            self._remember_sent(name, document["_id"], ids)
        if failure is not None:
            self._pause_inline(failure)
            unknown = {d["_id"] for d in sending}
            return [None if d["_id"] in unknown else self._without_known(name, d) for d in documents]
        return [self._without_known(name, d) for d in documents]

    def _pause_inline(self, failure: Exception) -> None:
        """An inline publish failed: leave the next few seconds' events to the relay."""
        OUTBOX_PUBLISH_FAILURES.inc()
        self._inline_paused_until = time.monotonic() + self._inline_pause
        log.warning(
            "inline publish failed; the relay takes over",
            error_type=type(failure).__name__,
            pause_seconds=self._inline_pause,
        )

    def _known_sent(self, name: str, document_id: Any) -> set[str]:
        unremoved = self._unremoved.get((name, document_id))
        return set() if unremoved is None else unremoved.ids

    def _unsent(self, name: str, document: Document) -> bool:
        """Whether the document holds entries this replica has not published."""
        return bool((document.get(OUTBOX) or {}).keys() - self._known_sent(name, document["_id"]))

    def _remember_sent(self, name: str, document_id: Any, ids: Sequence[str]) -> None:
        if not ids:
            return
        first = not self._unremoved
        unremoved = self._unremoved.setdefault((name, document_id), _Unremoved(set(), time.monotonic()))
        unremoved.ids.update(ids)
        if first:
            self._pacer.nudge()  # the loop times the removal (it does already when others wait)

    def _forget_removed(self, name: str, documents: Sequence[Document]) -> None:
        """Entries a write stored without (its store's copy had them sent) are removed already."""
        for document in documents:
            key = (name, document["_id"])
            unremoved = self._unremoved.get(key)
            if unremoved is not None:
                unremoved.ids &= (document.get(OUTBOX) or {}).keys()
                if not unremoved.ids:
                    del self._unremoved[key]

    def _without_known(self, name: str, document: Document) -> Document:
        """The stored document without the entries this replica sent (same revision)."""
        known = self._known_sent(name, document["_id"])
        outbox = document.get(OUTBOX) or {}
        if not known & outbox.keys():
            return document
        remaining = {k: v for k, v in outbox.items() if k not in known}
        return {**document, OUTBOX: remaining, OUTBOX_PENDING: len(remaining)}

    def _waits_for_other(self, name: str, document: Document) -> float | None:
        """Seconds until the document's pending entries written by another replica (unknown here)
        come of age, or None when there are none younger than `foreign_grace_seconds`."""
        if name not in self._deferring:
            return None
        known = self._known_sent(name, document["_id"])
        now = time.time()
        young = [
            entry["order"] / 1e6 + self._foreign_grace - now
            for event_id, entry in (document.get(OUTBOX) or {}).items()
            if event_id not in known and entry.get(BY) != self._owner
        ]
        return max((w for w in young if w > 0), default=None)

    async def remove_sent(self, *, due_only: bool = True, document: tuple[str, Any] | None = None) -> None:
        """Remove the sent entries remembered (all once any is due, or all now, or one document's)
        in one bulk write per collection; each entry only where it still is, with a new revision."""
        if due_only and document is None and (self._next_removal() or 0.0) > 0:
            return
        chosen = {
            key: set(unremoved.ids)
            for key, unremoved in self._unremoved.items()
            if document is None or key == document
        }
        by_collection: dict[str, list[tuple[Any, set[str]]]] = {}
        for (name, document_id), ids in chosen.items():
            by_collection.setdefault(name, []).append((document_id, ids))
        for name, removals in by_collection.items():
            collection = self._collections.get(name)
            if collection is None:  # not relayed here: left to whoever relays it (never busy-waited on)
                for document_id, _ in removals:
                    self._unremoved.pop((name, document_id), None)
                continue
            await _update_all(
                collection,
                [
                    (
                        {"_id": document_id, f"{OUTBOX}.{event_id}": {"$exists": True}},
                        _removal([event_id], new_revision()),
                    )
                    for document_id, ids in removals
                    for event_id in sorted(ids)
                ],
            )
            for document_id, ids in removals:
                key = (name, document_id)
                unremoved = self._unremoved.get(key)
                if unremoved is not None:
                    unremoved.ids -= ids
                    if not unremoved.ids:
                        del self._unremoved[key]

    async def remove_sent_of(self, collection: str, document_id: Any) -> None:
        """Remove now the entries this replica sent from that document (before deleting it)."""
        if (collection, document_id) in self._unremoved:
            await self.remove_sent(due_only=False, document=(collection, document_id))

    def _next_removal(self) -> float | None:
        """Seconds until the oldest remembered entries are due for removal (None: none are)."""
        now = time.monotonic()
        dues = [u.since + self._removal_delay - now for u in self._unremoved.values()]
        return max(0.0, min(dues)) if dues else None

    def _next_due(self) -> float | None:
        """Seconds until the next removal or second look is due (None: none waits)."""
        now = time.monotonic()
        dues = [at - now for at in self._later.values()]
        if (removal := self._next_removal()) is not None:
            dues.append(removal)
        return max(0.0, min(dues)) if dues else None

    def sweep_soon(self) -> None:
        """Sweep at the next pass (a replica died and may have left events unpublished)."""
        self._sweeps.soon()
        self._pacer.nudge()

    def stop(self) -> None:
        """Finish the current pass and return from `run()`."""
        self._pacer.stop()
        OUTBOX_LAG_SECONDS.forget(self)

    async def relay_once(self, *, sweep: bool = False) -> int:
        """Publish the hinted documents' events (all pending ones with `sweep`); return how many.

        A document held by a writer or another relay is hinted again for the next pass.
        """
        now = time.monotonic()
        for key, at in list(self._later.items()):
            if at <= now:
                del self._later[key]
                self._hints.add(key)
        hints, self._hints = self._hints, set()
        try:
            published = sum(await asyncio.gather(*(self._relay_hint(name, i) for name, i in sorted(hints))))
            if sweep:
                self._sweeps.done()
                self._unsent_since.clear()  # the sweep reads every pending document again
                for collection in self._collections.values():
                    published += await self._sweep(collection)
            return published
        except BaseException:
            # Nothing is lost to a failed pass: its documents are looked at again next time,
            # and a sweep cut short runs again (not a sweep for every failure: on FerretDB
            # one reads whole collections, which grow with history).
            self._hints |= hints
            if sweep:
                self._sweeps.soon()
            raise
        finally:
            self._show_oldest_unsent()

    def _show_oldest_unsent(self) -> None:
        """The age of the oldest entry read and not yet published; 0 once all went out."""
        oldest = min(self._unsent_since.values(), default=None)
        age = 0.0 if oldest is None else (self._clock() - oldest).total_seconds()
        if self._pacer.stopped:
            OUTBOX_LAG_SECONDS.forget(self)  # a stopped relay shows nothing any more
        else:
            OUTBOX_LAG_SECONDS.set(self, max(0.0, age))

    async def _sweep(self, collection: AsyncCollection[Document]) -> int:
        """Relay every document with pending events: one pass of one cursor, relayed as found."""
        published = 0
        batch: list[str] = []
        cursor = collection.find({OUTBOX_PENDING: {"$gt": 0}}, {"_id": 1}, batch_size=SWEEP_BATCH)
        async for document in cursor:
            batch.append(document["_id"])
            if len(batch) == SWEEP_BATCH:
                published += sum(await asyncio.gather(*(self._relay_hint(collection.name, i) for i in batch)))
                batch = []
        published += sum(await asyncio.gather(*(self._relay_hint(collection.name, i) for i in batch)))
        return published

    async def run(self) -> None:
        """Relay until `stop()`, waking on `notify()` or every poll interval."""
        backoff = self._pacer.interval_seconds
        while not self._pacer.stopped:
            try:
                await self.relay_once(sweep=self._sweeps.due)
                await self.remove_sent()
                backoff = self._pacer.interval_seconds
            except Exception:
                OUTBOX_PUBLISH_FAILURES.inc()
                log.exception("outbox relay pass failed; will retry")
                backoff = min(backoff * 2, 30.0)
            due = self._next_due()  # a removal or a second look
            if backoff != self._pacer.interval_seconds:
                await self._pacer.pause(backoff)
            elif self._hints:
                await self._pacer.pause(min(backoff, 0.05))  # a held document: look again soon
            else:
                await self._pacer.pause(backoff if due is None else min(backoff, due))

    async def _relay_hint(self, collection_name: str, document_id: str) -> int:
        collection = self._collections.get(collection_name)
        if collection is None:
            return 0
        async with self._slots:
            published = await self._relay_document(collection, document_id)
        if published is None:
            self._hints.add((collection_name, document_id))
            return 0
        return published

    async def _relay_document(self, collection: AsyncCollection[Document], document_id: Any) -> int | None:
        """Publish one document's pending events under its lease; None if someone holds it."""
        held = await self._locks.try_held(document_lock(collection, document_id), self._owner, self._lease)
        if held is None:
            return None  # a writer or another relay holds it
        try:
            document = handed_document(held, collection) or await collection.find_one({"_id": document_id})
            if document is None:
                return 0
            wait = self._waits_for_other(collection.name, document)
            if wait is not None:  # another replica's to publish first: look again once it may be done
                again = min(wait, max(2 * self._removal_delay, 0.25))
                self._later[(collection.name, document_id)] = time.monotonic() + again
                return 0
            return len(await self._publish_document(collection, document))
        finally:
            await self._locks.release(held.lease)

    async def _publish_document(self, collection: AsyncCollection[Document], document: Document) -> list[str]:
        """Publish the document's entries in order, then remove the confirmed ones in one write
        (also after a failed publish); return the ids sent."""
        sent, failure = await self._send(collection, document)
        await self._mark_sent(
            collection, {document["_id"]: Sent(sent, document.get(REVISION))} if sent else {}
        )
        if failure is not None:
            raise failure
        return sent

    async def _send(
        self, collection: AsyncCollection[Document], document: Document
    ) -> tuple[list[str], Exception | None]:
        """Publish the document's entries in order until one fails: the ids the broker
        confirmed, and the failure that stopped the rest (None when all went)."""
        sent: list[str] = []
        known = self._known_sent(collection.name, document["_id"])
        pending = [e for e in _pending_events(document) if e.event_id not in known]
        key = (collection.name, document["_id"])
        failure: Exception | None = None
        if pending:
            self._unsent_since[key] = min(event.at for event in pending)
        try:
            for event in pending:
                with continued(f"outbox relay {event.topic}", event.headers, attributes=_described(event)):
                    await self._publish(event)
                EVENTS_PUBLISHED.labels(event.topic).inc()
                sent.append(event.event_id)
                log.debug("outbox event published", event_id=event.event_id, topic=event.topic)
        except Exception as exc:
            failure = exc
        finally:
            unsent = [event.at for event in pending if event.event_id not in sent]
            if unsent:
                self._unsent_since[key] = min(unsent)
            else:
                self._unsent_since.pop(key, None)
        return sent, failure

    async def _mark_sent(self, collection: AsyncCollection[Document], sent: Mapping[Any, Sent]) -> None:
        """Remove confirmed entries: one write for any number of documents, and for those of
        other writes that meet it in flight (`Coalesced`)."""
        if not sent:
            return
        removals = self._removals.get(collection.name)
        if removals is None:  # collections are watched once the runtime's stores are made
            removals = Coalesced(functools.partial(_remove_sent, collection))
            self._removals[collection.name] = removals
        await removals(sent)


async def _remove_sent(
    collection: AsyncCollection[Document], batches: Sequence[Mapping[Any, Sent]]
) -> list[None]:
    """Every batch's confirmed entries removed, in one write (each document's own `$unset`, of
    the revision they were read in; see the module docstring)."""
    await _update_all(
        collection,
        [
            ({"_id": document_id, REVISION: sent.read}, _removal(sent.ids, sent.revision))
            for batch in batches
            for document_id, sent in batch.items()
        ],
    )
    return [None] * len(batches)


def _removal(ids: Sequence[str], revision: str) -> Document:
    """The update that drops entries `ids` from a document's outbox and stores `revision`."""
    return {
        "$unset": {f"{OUTBOX}.{i}": "" for i in ids},
        "$inc": {OUTBOX_PENDING: -len(ids)},
        "$set": {REVISION: revision},
    }


async def _update_all(
    collection: AsyncCollection[Document], updates: Sequence[tuple[Mapping[str, Any], Document]]
) -> None:
    """(filter, update) pairs in one round trip: one `update_one`, or one unordered bulk write."""
    if len(updates) == 1:
        await collection.update_one(*updates[0])
    elif updates:
        await collection.bulk_write([UpdateOne(q, u) for q, u in updates], ordered=False)
