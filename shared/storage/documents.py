"""Writes to a service's documents: one writer per document at a time, events and cause in the same write.

On the common subset (DESIGN §5) a state change and its events must be one
single-document write, and on FerretDB 1.24 two concurrent updates of one document can
lose one of them (see `locks.py`). So a `DocumentStore` changes a document only while
holding that document's lease, reading it, applying a pure change, and replacing it
whole, with the change's events merged into the document's outbox. The outbox relay takes
the same lease before it marks events sent, so it never overwrites a concurrent change.

Effect and dedupe in one write (DESIGN §4): a handler passes the envelope it is handling
as `cause`; its id is recorded inside the very write that applies the effect (the last
`MAX_CAUSES` of them), and a write whose cause is already recorded changes nothing. So a
crash between a handler's write and its inbox record cannot apply the effect twice when
the event comes again. One cause makes at most one write per document: a handler that
needs two changes of one document composes them into one `Change`.

Inline relay and handed documents (`outbox.py`, `locks.py`): a write that leaves events
publishes them before it lets go of the lease, and hands the document as stored to the
next writer of it in this process, which then changes it without reading it again.

Every read and write here is by a lone `_id`, the only filter FerretDB serves from an
index (DESIGN §5); `find` is for listings off the hot path.

A write's cause also names the journey (its correlation id) on the current span, so a
trace that began without one (a timer scheduled before tracing was on) is still found
by it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import bson
from pymongo import InsertOne, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.events.envelope import Envelope, OutgoingEvent
from shared.observability.tracing import note_correlation
from shared.storage import AlreadyExists, Document
from shared.storage.bulk import insert_new
from shared.storage.locks import Held, Locks, document_lock
from shared.storage.outbox import (
    ABSENT,
    OUTBOX,
    OUTBOX_PENDING,
    hand_on_document,
    handed_document,
    outbox_entries,
    with_outbox,
)

PublishHeld = Callable[[AsyncCollection[Document], Sequence[Document]], Awaitable[list[Document | None]]]
"""Publishes held documents' pending events; returns each as stored after (None: unknown)."""

CAUSES = "_causes"
MAX_CAUSES = 64
"""How many causes a document remembers: far more than the redeliveries in flight at once."""

INTERNAL_FIELDS = (OUTBOX, OUTBOX_PENDING, CAUSES)


@dataclass(frozen=True, slots=True)
class Revision:
    """The new state of a document and the events the change causes."""

    document: Mapping[str, Any]
    events: Sequence[OutgoingEvent] = field(default_factory=tuple)


Change = Callable[[Document], Revision | None]
"""A pure function of the current document (without internal fields); None leaves it as is."""

Creation = Callable[[Document | None], Revision | None]
"""Like `Change`, but also called with None when the document does not exist yet."""


class DocumentStore:
    """The one way a service writes a collection's documents (see the module docstring)."""

    def __init__(
        self,
        collection: AsyncCollection[Document],
        locks: Locks,
        *,
        owner: str,
        lease: timedelta = timedelta(seconds=30),
        wait_seconds: float = 10.0,
        on_events: Callable[[str, str], None] = lambda collection, document_id: None,
        relayed: bool = True,
        publish_held: PublishHeld | None = None,
    ) -> None:
        self.name = collection.name
        self._publish_held = publish_held  # inline relay; None leaves every event to the relay
        self._collection = collection
        self._locks = locks
        self._owner = owner
        self._lease = lease
        self._wait_seconds = wait_seconds
        self._on_events = on_events  # tells the relay which document has new events
        self._relayed = relayed  # False: no relay watches this collection, so no events

    async def get(self, document_id: str, *, writing: bool = False) -> Document | None:
        """The document as stored; from the lease this process still keeps on it, if any
        (its last writer here left it as written, and nobody else can have changed it since).

        `writing`: the caller writes the document next, a moment from now: the read takes the
        write's lease and leaves it lingering with what it found (the document, or that there
        is none), so that write costs neither a lease nor a read of its own.
        """
        kept = self._locks.lingering(document_lock(self._collection, document_id))
        if kept == ABSENT:
            return None
        if isinstance(kept, bytes):
            return public(bson.decode(kept, codec_options=self._collection.codec_options))
        if writing and self._locks.lingers:
            async with self._held(document_id) as held:
                current = await self._current(held, document_id)
                if current is None:
                    held.hand_on(ABSENT)
                else:
                    hand_on_document(held, current)
            return None if current is None else public(current)
        found = await self._collection.find_one({"_id": document_id})
        return None if found is None else public(found)

    async def find(
        self,
        query: Mapping[str, Any],
        *,
        sort: Sequence[tuple[str, int]] = (("_id", 1),),
        skip: int = 0,
        limit: int = 0,
    ) -> list[Document]:
        """Documents matching `query`, for listings: on FerretDB this reads the whole collection."""
        cursor = self._collection.find(dict(query)).sort(list(sort)).skip(skip).limit(limit)
        return [public(document) async for document in cursor]

    async def insert(
        self,
        document: Mapping[str, Any],
        events: Sequence[OutgoingEvent] = (),
        *,
        cause: Envelope | None = None,
    ) -> bool:
        """Create a document with its events; False if `cause` created it already.

        Raises `AlreadyExists` when the `_id` exists for any other reason.
        """
        self._refuse_unrelayed(events)
        stored = with_outbox(document, events)
        if cause is not None:
            stored[CAUSES] = [cause.id]
            note_correlation(cause.correlation_id)
        if events and self._publish_held is not None:
            async with self._held(document["_id"]) as held:
                created = await self._insert_stored(stored, cause)
                if created:
                    await self._publish(held, stored)
            return created
        created = await self._insert_stored(stored, cause)
        if created and events:
            self._on_events(self.name, document["_id"])
        return created

    async def _insert_stored(self, stored: Document, cause: Envelope | None) -> bool:
        try:
            await self._collection.insert_one(stored)
        except DuplicateKeyError as exc:
            if cause is not None and await self._caused_by(stored["_id"], cause):
                return False
            raise AlreadyExists(f"{self.name}/{stored['_id']}") from exc
        return True

    async def insert_many(self, documents: Sequence[Mapping[str, Any]]) -> set[str]:
        """Create several event-free documents in one round trip; return the `_id`s that existed.

        Each document is still its own unique insert (a claim): one that exists already is
        refused alone, and the others are written (`ordered=False`). Documents with events go
        through `insert`, one by one, since each needs its relay hint and cause.
        """
        return {documents[n]["_id"] for n in await insert_new(self._collection, documents)}

    def lease_of(self, document_id: str) -> str:
        """The lease a write of this document takes (for `claiming`'s `also`)."""
        return document_lock(self._collection, document_id)

    def holding(self, leases: Sequence[str]) -> AbstractAsyncContextManager[set[str]]:
        """Hold other documents' leases (`lease_of`) for the block, taken in one round trip and
        given back together: `claiming` with nothing to claim."""
        return self.claiming((), also=leases)

    @asynccontextmanager
    async def claiming(
        self, documents: Sequence[Mapping[str, Any]], *, also: Sequence[str] = ()
    ) -> AsyncIterator[set[str]]:
        """`insert_many`, holding the new documents for the block: yields the `_id`s that existed.

        The leases of all the documents are taken first, in one round trip, and kept until the
        block ends (then given back in one more); each new document is handed to the first
        write of it in the block, so that write costs neither a lease nor a read. For claims
        that are written again at once: a notice's deliveries, claimed, sent and recorded.
        `also`: leases of other documents the block writes (`lease_of`, any store sharing these
        locks), taken and given back with the claims' instead of on their own.
        """
        resources = [document_lock(self._collection, d["_id"]) for d in documents]
        held = await self._locks.hold_new([*resources, *also], self._owner, self._lease)
        try:
            existed = await self.insert_many(documents)
            for document, resource in zip(documents, resources, strict=True):
                if document["_id"] not in existed:
                    self._locks.hand_on_new(resource, bson.encode(dict(document)))
            yield existed
        finally:
            await self._locks.let_go(held)

    async def update(
        self, document_id: str, change: Change, *, cause: Envelope | None = None
    ) -> Document | None:
        """Apply `change` to the current document under its lease; return the new state.

        Returns None when the document does not exist. Raises `LockTimeout` when another
        writer holds the document for longer than `wait_seconds` (a transient error).
        """

        return await self._write(document_id, _existing_only(change), cause, create=False)

    async def update_many(
        self, changes: Sequence[tuple[str, Change]], *, cause: Envelope | None = None
    ) -> dict[str, Document | None]:
        """`update` of several documents at once; return each one's new state by id (None: absent).

        The leases this process does not hold yet are taken in one round trip, the documents
        not handed on are read concurrently, the changed ones replaced in one bulk write, their
        events published inline and removed in one more, and the leases linger or go back as
        `update`'s do. Each document is still its own atomic write. A document whose lease
        another replica holds is updated on its own after the others (concurrently with any
        more such), holding nothing else meanwhile, so no two replicas wait on each other.
        """
        return await self._write_many(
            [(i, _existing_only(change)) for i, change in changes], cause, create=False
        )

    async def upsert_many(
        self, changes: Sequence[tuple[str, Creation]], *, cause: Envelope | None = None
    ) -> dict[str, Document | None]:
        """`upsert` of several documents at once, as `update_many` (new ones inserted in one more
        round trip)."""
        return await self._write_many(changes, cause, create=True)

    async def _write_many(
        self, changes: Sequence[tuple[str, Creation]], cause: Envelope | None, *, create: bool
    ) -> dict[str, Document | None]:
        ids = [document_id for document_id, _ in changes]
        if len(set(ids)) != len(ids):
            raise ValueError("a document is changed once per call: compose its changes")
        if cause is not None:
            note_correlation(cause.correlation_id)
        resources = [document_lock(self._collection, document_id) for document_id in ids]
        by_id = dict(changes)
        async with self._locks.held_together(
            resources, self._owner, self._lease, wait_seconds=self._wait_seconds
        ) as together:
            helds = {i: together[r] for i, r in zip(ids, resources, strict=True) if r in together}
            result = await self._write_held(helds, by_id, cause, create=create)
        # Those another replica held: each on its own now, holding nothing else meanwhile.
        others = [i for i in ids if i not in result]
        written = await asyncio.gather(*(self._write(i, by_id[i], cause, create=create) for i in others))
        return {**result, **dict(zip(others, written, strict=True))}

    async def _write_held(
        self,
        helds: Mapping[str, Held],
        changes: Mapping[str, Creation],
        cause: Envelope | None,
        *,
        create: bool,
    ) -> dict[str, Document | None]:
        currents = await asyncio.gather(
            *(self._current(held, document_id) for document_id, held in helds.items())
        )
        result: dict[str, Document | None] = {}
        writes: list[InsertOne[Document] | ReplaceOne[Document]] = []
        written: list[Document] = []
        for (document_id, held), current in zip(helds.items(), currents, strict=True):
            if current is None and not create:
                result[document_id] = None
                continue
            revision = None
            if current is None or cause is None or cause.id not in current.get(CAUSES, ()):
                revision = changes[document_id](None if current is None else public(current))
            if revision is None:
                if current is not None:
                    hand_on_document(held, current)
                result[document_id] = None if current is None else public(current)
                continue
            self._refuse_unrelayed(revision.events)
            stored = _stored(document_id, current, revision, cause)
            writes.append(InsertOne(stored) if current is None else ReplaceOne({"_id": document_id}, stored))
            written.append(stored)
            result[document_id] = public(stored)
        if writes:
            try:
                await self._collection.bulk_write(writes, ordered=False)
            except BaseException:
                for document in written:  # some may be stored: their events are the relay's
                    if document.get(OUTBOX_PENDING):
                        self._on_events(self.name, document["_id"])
                raise
            await self._publish_all(helds, written)
        return result

    async def _current(self, held: Held, document_id: str) -> Document | None:
        """The document as the previous holder here left it, else as stored."""
        if held.handed == ABSENT:
            return None
        handed = handed_document(held, self._collection)
        return handed if handed is not None else await self._collection.find_one({"_id": document_id})

    async def upsert(
        self, document_id: str, change: Creation, *, cause: Envelope | None = None
    ) -> Document | None:
        """Apply `change` to the document, or to None to create it; return the new state."""
        return await self._write(document_id, change, cause, create=True)

    async def delete(self, document_id: str) -> bool:
        """Remove a document under its lease; False if absent (deleting is idempotent).

        Refuses (`ValueError`) while the document still holds unpublished events: they
        would be lost. Claims and other bookkeeping documents carry none.
        """
        async with self._held(document_id):
            current = await self._collection.find_one({"_id": document_id}, {OUTBOX_PENDING: 1})
            if current is None:
                return False
            if current.get(OUTBOX_PENDING, 0):
                raise ValueError(f"{self.name}/{document_id} still has unpublished events")
            await self._collection.delete_one({"_id": document_id})
        return True

    async def _write(
        self, document_id: str, change: Creation, cause: Envelope | None, *, create: bool
    ) -> Document | None:
        if cause is not None:
            note_correlation(cause.correlation_id)  # a timer's or request's span names its journey
        async with self._held(document_id) as held:
            current = await self._current(held, document_id)
            if current is None and not create:
                return None
            if current is not None and cause is not None and cause.id in current.get(CAUSES, ()):
                hand_on_document(held, current)
                return public(current)  # this cause's effect is stored already
            revision = change(None if current is None else public(current))
            if revision is None:
                if current is not None:
                    hand_on_document(held, current)
                return None if current is None else public(current)
            self._refuse_unrelayed(revision.events)
            stored = _stored(document_id, current, revision, cause)
            if current is None:
                await self._collection.insert_one(stored)
            else:
                await self._collection.replace_one({"_id": document_id}, stored)
            await self._publish(held, stored)
        return public(stored)

    def _held(self, document_id: str) -> AbstractAsyncContextManager[Held]:
        return self._locks.held(
            document_lock(self._collection, document_id),
            self._owner,
            self._lease,
            wait_seconds=self._wait_seconds,
        )

    async def _publish(self, held: Held, stored: Document) -> None:
        """Send the stored document's pending events now, or leave them to the relay; hand on
        the document as it then is."""
        await self._publish_all({stored["_id"]: held}, [stored])

    async def _publish_all(self, helds: Mapping[str, Held], stored: Sequence[Document]) -> None:
        """`_publish` for documents written together: their events sent concurrently, the
        sent entries removed in one write."""
        after: list[Document | None] = list(stored)
        if self._publish_held is not None and any(d.get(OUTBOX_PENDING) for d in stored):
            after = await self._publish_held(self._collection, stored)
        for document, now in zip(stored, after, strict=True):
            if now is not None:
                hand_on_document(helds[document["_id"]], now)
            if now is None or now.get(OUTBOX_PENDING):
                self._on_events(self.name, document["_id"])

    def _refuse_unrelayed(self, events: Sequence[OutgoingEvent]) -> None:
        if events and not self._relayed:
            raise ValueError(f"{self.name} is not relayed: its documents cannot carry events")

    async def _caused_by(self, document_id: str, cause: Envelope) -> bool:
        found = await self._collection.find_one({"_id": document_id}, {CAUSES: 1})
        return found is not None and cause.id in found.get(CAUSES, ())


def _existing_only(change: Change) -> Creation:
    def existing_only(current: Document | None) -> Revision | None:
        return None if current is None else change(current)

    return existing_only


def _stored(
    document_id: str, current: Document | None, revision: Revision, cause: Envelope | None
) -> Document:
    """The whole next document: new state, outbox merged, cause remembered."""
    previous = current or {}
    pending = {**(previous.get(OUTBOX) or {}), **outbox_entries(revision.events)}
    causes = list(previous.get(CAUSES, ()))
    if cause is not None:
        causes = [*causes, cause.id][-MAX_CAUSES:]
    return {
        **revision.document,
        "_id": document_id,
        OUTBOX: pending,
        OUTBOX_PENDING: len(pending),
        CAUSES: causes,
    }


def public(document: Mapping[str, Any]) -> Document:
    """A document as services see it: without the outbox and cause bookkeeping."""
    return {k: v for k, v in document.items() if k not in INTERNAL_FIELDS}
