"""Writes to a service's documents: one writer per document at a time, events and cause in the same write.

On the common subset (DESIGN §5) a state change and its events must be one
single-document write, and on FerretDB 1.24 two concurrent updates of one document can
lose one of them (see `locks.py`). So a `DocumentStore` changes a document only while
holding that document's lease, reading it, applying a pure change, and replacing it
whole, with the change's events merged into the document's outbox. The outbox relay takes
the same lease before it marks events sent, so it never overwrites a concurrent change.

Effect and dedupe in one write (DESIGN §4): a handler passes the envelope it is handling
as `cause`; its id is recorded (`cause_key`, a short digest) inside the very write that
applies the effect (the last `MAX_CAUSES` of them), and a write whose cause is already
recorded changes nothing. So a crash between a handler's write and its inbox record cannot
apply the effect twice when the event comes again. One cause makes at most one write per
document: a handler that needs two changes of one document composes them into one `Change`.

Inline relay and handed documents (`outbox.py`, `locks.py`): a write that leaves events
publishes them before it lets go of the lease, and hands the document as stored to the
next writer of it in this process, which then changes it without reading it again. The sent
entries are removed later, without the lease (outbox.py, "Removal later"), so a leased replace
too checks the revision it read, and reads again if such a removal came between.

Writes that meet fold into one (group commit): changes of one document asked for while a
write of it is queued or in flight in this process wait for that write to end, then go
together, applied one after the other in the order asked, in one write under one lease.
Each caller still gets the document as its own change left it (or its own error), and its
cause is recorded as if it had written alone. So a document everyone wants at once (a
popular therapist's holds) costs one round trip per turn, not one per writer.

Revision-checked stores (`revision_checked=True`) take no lease. Every write stores a new
`_rev` token, and such a store replaces a document only if it still holds the token its
writer read (`replace_one({_id, _rev})`; an insert's unique `_id` for a new one); when
another writer came between, it reads the document again and applies the same changes to
it. It keeps the documents it last wrote (`CACHED`), so its next write of one usually reads
nothing: a stale copy only costs the refused replace. That halves a lone write's round trips
(no lease insert, no release), and needs conditional writes to be atomic: they are on
MongoDB and on the launcher's FerretDB (deploy/local/ferretdb/write-atomicity.patch), not on
FerretDB 1.24 as shipped. A write still publishes its own events at once; every publisher
sends a document's pending entries in order, so the first copy of each event keeps the order
of the writes, and a duplicate is the consumers' inbox's to skip. Its sent entries are removed
later, many in one write, or by the store's next write of the document if that comes first (it
builds on its copy without them); another replica's entries younger than a few seconds are left
to it, and so are the events written after them, until they are gone or of age (outbox.py,
"Removal later"). For documents written one at a time only: blocks holding several documents
(`holding`, `claiming`) need leases.

Every read and write here is by `_id` (with the revision, on MongoDB and the launcher's
FerretDB, still served by the `_id` index; DESIGN §5); `find` is for listings off the hot path.

A write's cause also names the journey (its correlation id) on the current span, so a
trace that began without one (a timer scheduled before tracing was on) is still found
by it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import bson
from bson.errors import InvalidDocument
from pymongo import InsertOne, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, WriteError

from shared.events.envelope import Envelope, OutgoingEvent
from shared.observability.tracing import note_correlation
from shared.storage import AlreadyExists, Document
from shared.storage.bulk import DUPLICATE_KEY, Coalesced, insert_in_order, insert_new
from shared.storage.locks import Held, Locks, LockTimeout, document_lock
from shared.storage.outbox import (
    ABSENT,
    OUTBOX,
    OUTBOX_PENDING,
    REVISION,
    hand_on_document,
    handed_document,
    new_revision,
    outbox_entries,
    with_outbox,
)

PublishHeld = Callable[[AsyncCollection[Document], Sequence[Document]], Awaitable[list[Document | None]]]
"""Publishes held documents' pending events; returns each as stored after (None: unknown)."""

CAUSES = "_causes"
MAX_CAUSES = 64
"""How many causes a document remembers: far more than the redeliveries in flight at once."""


def cause_key(event_id: str) -> str:
    """What a document remembers of a cause: 72 bits of its id's SHA-256, 12 characters.

    A busy document remembers `MAX_CAUSES` of them and is read and rewritten whole at every
    write: its ids (36 characters each) made up about 2.8 KB of it. A false match needs two of
    a document's last 64 causes to share 72 bits. Documents written before still hold whole
    ids, which `remembers` still finds.
    """
    digest = hashlib.sha256(event_id.encode()).digest()[:9]
    return base64.urlsafe_b64encode(digest).decode()


def remembers(document: Mapping[str, Any], cause: Envelope) -> bool:
    """Whether the stored document records `cause` among its last causes."""
    causes = document.get(CAUSES) or ()
    return cause_key(cause.id) in causes or cause.id in causes


MAX_CONFLICTS = 16
"""Revision-checked tries of one write before it gives up as busy (`LockTimeout`)."""

CACHED = 2048
"""Documents a revision-checked store keeps as it last wrote them, to write again unread."""

INTERNAL_FIELDS = (OUTBOX, OUTBOX_PENDING, CAUSES, REVISION)


@dataclass(frozen=True, slots=True)
class Revision:
    """The new state of a document and the events the change causes."""

    document: Mapping[str, Any]
    events: Sequence[OutgoingEvent] = field(default_factory=tuple)


Change = Callable[[Document], Revision | None]
"""A pure function of the current document (without internal fields); None leaves it as is."""

Creation = Callable[[Document | None], Revision | None]
"""Like `Change`, but also called with None when the document does not exist yet."""


@dataclass(slots=True)
class _Asked:
    """One caller's change of a document, waiting for the write that carries it."""

    change: Creation
    cause: Envelope | None
    create: bool
    outcome: asyncio.Future[Document | None]


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
        revision_checked: bool = False,
        settle_sent: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self.name = collection.name
        self._settle_sent = settle_sent  # removes now the sent entries the relay would remove later
        self._checked = revision_checked
        self._cache: OrderedDict[str, bytes] = OrderedDict()  # revision-checked: as last written here
        self._publish_held = publish_held  # inline relay; None leaves every event to the relay
        self._collection = collection
        self._locks = locks
        self._owner = owner
        self._lease = lease
        self._wait_seconds = wait_seconds
        self._on_events = on_events  # tells the relay which document has new events
        self._relayed = relayed  # False: no relay watches this collection, so no events
        self._asked: dict[str, list[_Asked]] = {}  # per document with a write queued or in flight
        self._rounds: set[asyncio.Task[None]] = set()
        # Writes of single documents that meet in flight go as one bulk write (`_store_together`).
        self._store_one: Coalesced[tuple[Document, Document | None], bool | Exception] = Coalesced(
            self._store_together
        )

    async def get(self, document_id: str, *, writing: bool = False) -> Document | None:
        """The document as stored; from the lease this process still keeps on it, if any
        (its last writer here left it as written, and nobody else can have changed it since).

        `writing`: the caller writes the document next, a moment from now: the read takes the
        write's lease and leaves it lingering with what it found (the document, or that there
        is none), so that write costs neither a lease nor a read of its own. A
        revision-checked store reads it and keeps it for that write instead (never answers it
        from a kept copy: one another replica made stale would keep its caller, say, trying
        slots taken meanwhile).
        """
        if self._checked:
            found = await self._read(document_id)
            if writing:
                self._remember(document_id, found)
            return None if found is None else public(found)
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
        found = await self._read(document_id)
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
        stored = with_outbox(document, events, by=self._owner)
        if cause is not None:
            stored[CAUSES] = [cause_key(cause.id)]
            note_correlation(cause.correlation_id)
        if events and self._publish_held is not None and self._checked:
            created = await self._insert_stored(stored, cause)
            if created:
                [after] = await self._published([stored])
                self._remember_after(stored["_id"], after)
            return created
        if events and self._publish_held is not None:
            async with self._held(document["_id"]) as held:
                created = await self._insert_stored(stored, cause)
                if created:
                    await self._publish(held, stored)
            return created
        created = await self._insert_stored(stored, cause)
        if created and events:
            self._on_events(self.name, document["_id"])
        if created and self._checked:
            self._remember(stored["_id"], stored)  # its first change then reads nothing
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
        through `insert`, one by one, since each needs its relay hint and cause. A
        revision-checked store keeps the ones it inserted, so their first change reads nothing.
        """
        if not self._checked:
            return {documents[n]["_id"] for n in await insert_new(self._collection, documents)}
        stamped = [{**document, REVISION: new_revision()} for document in documents]
        existed = {stamped[n]["_id"] for n in await insert_new(self._collection, stamped)}
        for document in stamped:
            if document["_id"] not in existed:
                self._remember(document["_id"], document)
        return existed

    async def insert_in_order(self, documents: Sequence[Mapping[str, Any]]) -> int | None:
        """Create event-free documents in order, in one round trip, stopping at the first that
        exists: its position (those before it are created, none after it), or None when all
        were. For claims where the first refused one decides and later ones must not be taken."""
        return await insert_in_order(self._collection, documents)

    def lease_of(self, document_id: str) -> str:
        """The lease a write of this document takes (for `claiming`'s `also`)."""
        self._refuse_if_checked("lease_of")
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
        self._refuse_if_checked("claiming")
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
        outcomes = await asyncio.gather(*self._ask(changes, cause, create=create), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return {document_id: cast(Document | None, o) for document_id, o in zip(ids, outcomes, strict=True)}

    def _ask(
        self, changes: Sequence[tuple[str, Creation]], cause: Envelope | None, *, create: bool
    ) -> list[asyncio.Future[Document | None]]:
        """Queue each change behind the write of its document queued or in flight here, if any;
        the documents with none start a write of their own, together."""
        loop = asyncio.get_running_loop()
        outcomes: list[asyncio.Future[Document | None]] = []
        idle: list[str] = []
        for document_id, change in changes:
            asked = _Asked(change, cause, create, loop.create_future())
            queue = self._asked.get(document_id)
            if queue is None:
                self._asked[document_id] = [asked]
                idle.append(document_id)
            else:
                queue.append(asked)
            outcomes.append(asked.outcome)
        if idle:
            self._start_round(idle)
        return outcomes

    def _start_round(self, ids: Sequence[str]) -> None:
        task = asyncio.get_running_loop().create_task(self._round(ids))
        self._rounds.add(task)
        task.add_done_callback(self._rounds.discard)

    async def _round(self, ids: Sequence[str]) -> None:
        """Write what is asked of `ids` now, under their leases: all of one document in one write,
        the documents in one bulk write. A document whose lease another replica holds gets a
        round of its own after this one (waiting for the lease then, holding nothing else); what
        is asked meanwhile goes in the next round."""
        taken: dict[str, list[_Asked]] = {}
        left_out: list[str] = []
        settled: list[tuple[_Asked, Document | BaseException | None]] = []
        try:
            if self._checked:
                settled = await self._write_checked(ids, taken)
            elif len(ids) == 1:
                async with self._held(ids[0]) as held:
                    settled = await self._write_asked({ids[0]: held}, taken)
            else:
                resources = {document_lock(self._collection, i): i for i in ids}
                async with self._locks.held_together(
                    list(resources), self._owner, self._lease, wait_seconds=self._wait_seconds
                ) as together:
                    settled = await self._write_asked({resources[r]: h for r, h in together.items()}, taken)
                left_out = [i for i in ids if i not in taken]
        except BaseException as exc:
            failed = [(a, exc) for document_id in ids for a in self._asked_now(document_id, taken)]
            _settle([*failed, *((a, exc) for a, _ in settled)])
            if not isinstance(exc, Exception):
                raise
        else:
            _settle(settled)  # once the leases linger or are back, as a write alone returned
        finally:
            for document_id in ids:
                if document_id not in left_out:
                    self._next_round(document_id)
        for document_id in left_out:
            self._start_round([document_id])

    def _asked_now(self, document_id: str, taken: Mapping[str, list[_Asked]]) -> list[_Asked]:
        """What is asked of a document no write took (its lease could not be had), taken now."""
        if document_id in taken:
            return []
        asked, self._asked[document_id] = self._asked[document_id], []
        return asked

    def _next_round(self, document_id: str) -> None:
        if self._asked.get(document_id):
            self._start_round([document_id])
        else:
            self._asked.pop(document_id, None)

    async def _write_asked(
        self, helds: Mapping[str, Held], taken: dict[str, list[_Asked]]
    ) -> list[tuple[_Asked, Document | BaseException | None]]:
        """Read the held documents (or take them as handed on), fold what is asked of each into
        one write, and store them in one round trip: each caller's outcome, to settle once the
        leases are let go (a failed write settles them with its error at once).

        Each replace still checks the revision it read: a removal of sent outbox entries takes
        no lease (outbox.py, "Removal later") and may come between, and a whole replace from the
        copy read before it would bring them back. Such a document is read again and what is
        asked of it folded anew, as a revision-checked store does."""
        for document_id in helds:
            taken[document_id], self._asked[document_id] = self._asked[document_id], []
        currents = await asyncio.gather(
            *(self._current(held, document_id) for document_id, held in helds.items())
        )
        todo = dict(zip(helds, currents, strict=True))
        settled: list[tuple[_Asked, Document | BaseException | None]] = []

        def unchanged(document_id: str, current: Document | None) -> None:
            if current is not None:  # the next holder here needs no read
                hand_on_document(helds[document_id], current)

        try:
            for _ in range(MAX_CONFLICTS):
                stored, conflicts = await self._fold_and_store(todo, taken, settled, unchanged)
                if stored:
                    await self._publish_all(helds, stored)
                if not conflicts:
                    return settled
                todo = await self._read_all(conflicts)
            raise LockTimeout(document_lock(self._collection, next(iter(todo))))
        except BaseException as exc:
            _settle([(a, exc) for asked in taken.values() for a in asked])
            raise

    async def _write_checked(
        self, ids: Sequence[str], taken: dict[str, list[_Asked]]
    ) -> list[tuple[_Asked, Document | BaseException | None]]:
        """`_write_asked` without leases: each document as this store last wrote it (else read),
        what is asked of it folded into one write, stored in one round trip if its revision is
        still the one read; those another writer changed meanwhile are read again and folded
        anew, up to `MAX_CONFLICTS` times."""
        for document_id in ids:
            taken[document_id], self._asked[document_id] = self._asked[document_id], []
        todo = dict(zip(ids, await asyncio.gather(*(self._known(i) for i in ids)), strict=True))
        settled: list[tuple[_Asked, Document | BaseException | None]] = []
        stored: list[Document] = []
        try:
            for attempt in range(MAX_CONFLICTS):
                # Unchanged: kept as it is, so the next write needs no read.
                stored_now, conflicts = await self._fold_and_store(todo, taken, settled, self._remember)
                stored += stored_now
                if not conflicts:
                    break
                for document_id in conflicts:
                    self._forget(document_id)
                if attempt:  # met again: step back a random moment, so contenders stop meeting
                    await asyncio.sleep(random.uniform(0, min(0.1, 0.005 * 2**attempt)))  # noqa: S311 (jitter)
                todo = await self._read_all(conflicts)
            else:
                raise LockTimeout(document_lock(self._collection, next(iter(todo))))
            for document, after in zip(stored, await self._published(stored), strict=True):
                self._remember_after(document["_id"], after)
        except BaseException as exc:
            for document_id in ids:
                self._forget(document_id)
            self._hint_pending(stored)  # their events may be unsent (a failed store hints its own)
            _settle([(a, exc) for asked in taken.values() for a in asked])
            raise
        return settled

    async def _fold_and_store(
        self,
        todo: Mapping[str, Document | None],
        taken: Mapping[str, list[_Asked]],
        settled: list[tuple[_Asked, Document | BaseException | None]],
        unchanged: Callable[[str, Document | None], None],
    ) -> tuple[list[Document], set[str]]:
        """One try of a write, leased or not: what is asked of each document in `todo` (as read)
        folded into it, and the changed ones stored in one round trip where their revision is
        still the one read. The outcomes of the documents stored or left as they were join
        `settled` (`unchanged` is told of the latter); returns the documents stored and the ids
        another writer came first for, to read again and fold anew."""
        written: list[tuple[Document, Document | None]] = []  # (document, as read)
        outcomes: dict[str, list[tuple[_Asked, Document | BaseException | None]]] = {}
        for document_id, current in todo.items():
            new, outcomes[document_id] = self._fold(document_id, current, taken[document_id])
            if new is not None:
                written.append((new, current))
            else:
                unchanged(document_id, current)
        try:
            conflicts = await self._store_checked(written)
        except BaseException:
            self._hint_pending([document for document, _ in written])  # some may be stored
            raise
        for document_id in todo.keys() - conflicts:
            settled.extend(outcomes[document_id])
        return [document for document, _ in written if document["_id"] not in conflicts], conflicts

    async def _read_all(self, ids: Iterable[str]) -> dict[str, Document | None]:
        """The documents as stored, read concurrently (those another writer came first for)."""
        ordered = list(ids)
        return dict(zip(ordered, await asyncio.gather(*(self._read(i) for i in ordered)), strict=True))

    async def _store_checked(self, written: Sequence[tuple[Document, Document | None]]) -> set[str]:
        """Documents stored (new ones inserted, the others replaced if their revision is still
        the one read) in one round trip; returns the ids another writer came first for.

        A lone document joins the other lone documents' writes of this store that meet it in
        flight (rounds of different documents, running at once): one bulk write for them all."""
        if len(written) == 1:
            outcome = await self._store_one(written[0])
            if isinstance(outcome, Exception):
                raise outcome
            return {written[0][0]["_id"]} if outcome else set()
        if not written:
            return set()
        refused, failed = await self._store_bulk(written)
        for error in failed.values():
            raise error
        return refused

    async def _store_together(
        self, written: Sequence[tuple[Document, Document | None]]
    ) -> list[bool | Exception]:
        """Lone documents' writes that met, in one round trip: for each, whether another writer
        came first (True), or the error its own write met (the others are stored regardless)."""
        if len(written) == 1:
            [(document, read)] = written
            if read is None:
                try:
                    await self._collection.insert_one(document)
                except DuplicateKeyError:
                    return [True]
                return [False]
            replaced = await self._collection.replace_one(
                {"_id": document["_id"], REVISION: read.get(REVISION)}, document
            )
            return [not replaced.matched_count]
        try:
            refused, failed = await self._store_bulk(written)
        except InvalidDocument:  # one that cannot be sent (too large): sent with none, or some
            return list(await asyncio.gather(*(self._store_alone(d, read) for d, read in written)))
        return [failed.get(n, document["_id"] in refused) for n, (document, _) in enumerate(written)]

    async def _store_alone(self, document: Document, read: Document | None) -> bool | Exception:
        """One write of a batch that could not be sent whole, now alone: as `_store_together`'s,
        but a write found refused is checked against what is stored (the batch may have stored
        it before it failed)."""
        try:
            [refused] = await self._store_together([(document, read)])
        except InvalidDocument as exc:
            return exc
        if refused is True:
            now = await self._collection.find_one({"_id": document["_id"]}, {REVISION: 1})
            return now is None or now.get(REVISION) != document[REVISION]
        return refused

    async def _store_bulk(
        self, written: Sequence[tuple[Document, Document | None]]
    ) -> tuple[set[str], dict[int, Exception]]:
        """`written` in one `bulk_write` (each its own atomic write): the ids another writer came
        first for, and the errors of those that failed otherwise, by position."""
        writes = [
            InsertOne(d) if read is None else ReplaceOne({"_id": d["_id"], REVISION: read.get(REVISION)}, d)
            for d, read in written
        ]
        failed: dict[int, Exception] = {}
        try:
            matched, refused = (await self._collection.bulk_write(writes, ordered=False)).matched_count, set()
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            matched = exc.details.get("nMatched", 0)
            refused = {written[e["index"]][0]["_id"] for e in errors if e.get("code") == DUPLICATE_KEY}
            failed = {
                e["index"]: WriteError(e.get("errmsg", "write failed"), e.get("code"), e)
                for e in errors
                if e.get("code") != DUPLICATE_KEY
            }
        replaces = [d for n, (d, read) in enumerate(written) if read is not None and n not in failed]
        if matched < len(replaces):  # which ones: those whose stored revision is not the new one
            now = await asyncio.gather(
                *(self._collection.find_one({"_id": d["_id"]}, {REVISION: 1}) for d in replaces)
            )
            refused |= {
                d["_id"]
                for d, n in zip(replaces, now, strict=True)
                if n is None or n.get(REVISION) != d[REVISION]
            }
        return refused, failed

    async def _known(self, document_id: str) -> Document | None:
        """The document as this store last wrote it, else as stored."""
        kept = self._cache.get(document_id)
        if kept is None:
            return await self._read(document_id)
        self._cache.move_to_end(document_id)
        if kept == ABSENT:
            return None
        decoded: Document = bson.decode(kept, codec_options=self._collection.codec_options)
        return decoded

    async def _read(self, document_id: str) -> Document | None:
        """The document as stored (one round trip)."""
        return await self._collection.find_one({"_id": document_id})

    def _remember(self, document_id: str, document: Mapping[str, Any] | None) -> None:
        """Keep `document` (None: that there is none) as the base of this store's next write of
        it; as BSON, so no caller's later change of it reaches that write. A stale copy costs a
        refused write (or insert) and a read, nothing more."""
        self._cache[document_id] = ABSENT if document is None else bson.encode(document)
        self._cache.move_to_end(document_id)
        if len(self._cache) > CACHED:
            self._cache.popitem(last=False)

    def _remember_after(self, document_id: str, after: Document | None) -> None:
        """Keep a document as `_published` left it (None: unknown, so forget it)."""
        if after is None:
            self._forget(document_id)
        else:
            self._remember(document_id, after)

    def _forget(self, document_id: str) -> None:
        self._cache.pop(document_id, None)

    def _hint_pending(self, documents: Sequence[Document]) -> None:
        """Tell the relay of the documents that carry pending events (after a write that may
        have stored them and failed: their events are the relay's)."""
        for document in documents:
            if document.get(OUTBOX_PENDING):
                self._on_events(self.name, document["_id"])

    def _refuse_if_checked(self, what: str) -> None:
        if self._checked:
            raise TypeError(f"{self.name} is revision-checked: it takes no leases ({what})")

    def _fold(
        self, document_id: str, current: Document | None, asked: Sequence[_Asked]
    ) -> tuple[Document | None, list[tuple[_Asked, Document | BaseException | None]]]:
        """The document to store after every asked change in turn (None: nothing to write), and
        each caller's outcome: the document as its change left it, or its error. A change whose
        cause the document records already (a redelivery, or the same cause asked twice) changes
        nothing; each later change sees the one before as a read would return it."""
        state, changed = current, False
        outcomes: list[tuple[_Asked, Document | BaseException | None]] = []
        for n, a in enumerate(asked):
            if a.outcome.done():
                continue  # its caller was cancelled before the write: it is not made
            if state is None and not a.create:
                outcomes.append((a, None))
                continue
            if state is not None and a.cause is not None and remembers(state, a.cause):
                outcomes.append((a, public(state)))  # this cause's effect is stored already
                continue
            try:
                revision = a.change(None if state is None else public(state))
                if revision is not None:
                    self._refuse_unrelayed(revision.events)
            except Exception as exc:  # that caller's error alone: the others' changes go on
                outcomes.append((a, exc))
                continue
            if revision is None:
                outcomes.append((a, None if state is None else public(state)))
                continue
            state, changed = _stored(document_id, state, revision, a.cause, by=self._owner), True
            outcomes.append((a, public(state)))
            if n + 1 < len(asked):
                state = bson.decode(bson.encode(state), codec_options=self._collection.codec_options)
        return (state if changed else None), outcomes

    async def _current(self, held: Held, document_id: str) -> Document | None:
        """The document as the previous holder here left it, else as stored."""
        if held.handed == ABSENT:
            return None
        handed = handed_document(held, self._collection)
        return handed if handed is not None else await self._read(document_id)

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
        if self._checked:
            return await self._delete_checked(document_id)
        async with self._held(document_id):
            if self._settle_sent is not None:
                await self._settle_sent(self.name, document_id)
            current = await self._collection.find_one({"_id": document_id}, {OUTBOX_PENDING: 1})
            if current is None:
                return False
            if current.get(OUTBOX_PENDING, 0):
                raise ValueError(f"{self.name}/{document_id} still has unpublished events")
            await self._collection.delete_one({"_id": document_id})
        return True

    async def _delete_checked(self, document_id: str) -> bool:
        """`delete` of the revision read: read again if another writer came between. Entries
        this replica sent and has not removed yet are removed first (they are not pending)."""
        self._forget(document_id)
        if self._settle_sent is not None:
            await self._settle_sent(self.name, document_id)
        for _ in range(MAX_CONFLICTS):
            current = await self._collection.find_one({"_id": document_id}, {OUTBOX_PENDING: 1, REVISION: 1})
            if current is None:
                return False
            if current.get(OUTBOX_PENDING, 0):
                raise ValueError(f"{self.name}/{document_id} still has unpublished events")
            deleted = await self._collection.delete_one({"_id": document_id, REVISION: current.get(REVISION)})
            if deleted.deleted_count:
                return True
        raise LockTimeout(document_lock(self._collection, document_id))

    async def _write(
        self, document_id: str, change: Creation, cause: Envelope | None, *, create: bool
    ) -> Document | None:
        if cause is not None:
            note_correlation(cause.correlation_id)  # a timer's or request's span names its journey
        [outcome] = self._ask([(document_id, change)], cause, create=create)
        return await outcome

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
        for document, now in zip(stored, await self._published(stored), strict=True):
            if now is not None:
                hand_on_document(helds[document["_id"]], now)

    async def _published(self, stored: Sequence[Document]) -> list[Document | None]:
        """Stored documents' pending events sent now (or left to the relay, which is told):
        each document as it is after (None: unknown)."""
        after: list[Document | None] = list(stored)
        # A write also tells the relay which sent entries it left out (removed by this write).
        if self._publish_held is not None:
            after = await self._publish_held(self._collection, stored)
        for document, now in zip(stored, after, strict=True):
            if now is None or now.get(OUTBOX_PENDING):
                self._on_events(self.name, document["_id"])
        return after

    def _refuse_unrelayed(self, events: Sequence[OutgoingEvent]) -> None:
        if events and not self._relayed:
            raise ValueError(f"{self.name} is not relayed: its documents cannot carry events")

    async def _caused_by(self, document_id: str, cause: Envelope) -> bool:
        found = await self._collection.find_one({"_id": document_id}, {CAUSES: 1})
        return found is not None and remembers(found, cause)


def _settle(outcomes: Sequence[tuple[_Asked, Document | BaseException | None]]) -> None:
    for asked, outcome in outcomes:
        if asked.outcome.done():
            continue  # its caller was cancelled meanwhile
        if isinstance(outcome, BaseException):
            if isinstance(outcome, asyncio.CancelledError):
                asked.outcome.cancel()
            else:
                asked.outcome.set_exception(outcome)
        else:
            asked.outcome.set_result(outcome)


def _existing_only(change: Change) -> Creation:
    def existing_only(current: Document | None) -> Revision | None:
        return None if current is None else change(current)

    return existing_only


def _stored(
    document_id: str, current: Document | None, revision: Revision, cause: Envelope | None, *, by: str
) -> Document:
    """The whole next document: new state, outbox merged (new entries marked as `by`'s), cause
    remembered."""
    previous = current or {}
    pending = {**(previous.get(OUTBOX) or {}), **outbox_entries(revision.events, by=by)}
    causes = list(previous.get(CAUSES, ()))
    if cause is not None:
        causes = [*causes, cause_key(cause.id)][-MAX_CAUSES:]
    return {
        **revision.document,
        "_id": document_id,
        OUTBOX: pending,
        OUTBOX_PENDING: len(pending),
        CAUSES: causes,
        REVISION: new_revision(),
    }


def public(document: Mapping[str, Any]) -> Document:
    """A document as services see it: without the outbox and cause bookkeeping."""
    return {k: v for k, v in document.items() if k not in INTERNAL_FIELDS}
