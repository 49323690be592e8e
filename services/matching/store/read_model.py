"""This replica's in-process directory: loaded once, kept current by its own writes and the journal.

Ranking never reads the directory from MongoDB per intake. Instead:

1. Load: at start-up, in the background (`warm_up`), or else at the first use (also a
   first journal append), every therapist and outcome record is read (one scan each) into
   a `DirectoryIndex`, after finding the journal's last version (a few `_id` lookups).
2. Own writes: whatever this replica writes (holds, caseload, profiles, availability,
   outcomes) is applied to the index from the document the write returned, and its id is
   appended to the shared journal (`journal.py`: one small insert); therapists are written
   through here (`upsert_therapist`, `change_therapists`), so no write of one can miss
   either step. An append right after this replica's version moves the version on: its
   own entry is never read back.
3. Others' writes: before ranking, the entries after this replica's version are read by
   `_id` up to the first missing one (one lookup when nothing changed); the documents
   other replicas changed are re-read by `_id` and applied. Rankings that ask while such
   a read runs share the next one, and a first ranking may reuse one that began less than
   `fresh_within` ago (a proposal's first; its next, after a refused hold, catches up). A
   replica further behind than the journal keeps (or below its pruned floor) reloads
   everything.
4. Safety net: a change whose journal entry was lost (a crash between a write and its
   append) is picked up by a full reload in the background every `reload_seconds`, after
   which the replica prunes the journal (housekeeping).

Correctness does not rest on freshness: a proposal places its holds by a revision-checked
write of each therapist's document after checking every hard constraint again on the
document as it is then
(`Capacity.place_hold`), so a stale copy can cost a retry, never an oversubscribed
therapist or a violated constraint. Each copy carries the document's `revision`, and an
older copy never replaces a newer one, whatever order refreshes finish in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.matching.domain.availability import week_key
from services.matching.domain.directory_index import DirectoryIndex
from services.matching.domain.outcomes import OutcomeBook
from services.matching.metrics import DIRECTORY_SIZE
from services.matching.store import journal
from services.matching.store.outcomes import counts_from_document
from services.matching.store.therapists import therapist_from_document
from shared.observability.logs import get_logger
from shared.ports import Clock, Documents
from shared.storage import Document
from shared.storage.documents import Change, Creation, Revision

log = get_logger(__name__)


@dataclass(slots=True)
class _Batch:
    """Ids waiting for the next journal append, and its outcome for everyone who added some."""

    refs: set[str] = field(default_factory=set)
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class _Shared:
    """One run of `work` for everyone who asks before it starts; who asks during a run joins the next.

    Concurrent rankings in one replica thus share one read of the journal, and none of
    them relies on a read that began before it asked.
    """

    def __init__(self, work: Callable[[], Awaitable[None]]) -> None:
        self._work = work
        self._running = asyncio.Lock()
        self._next: asyncio.Future[None] | None = None

    async def __call__(self) -> None:
        while True:
            run = self._next
            if run is None:
                run = self._next = asyncio.get_running_loop().create_future()
            async with self._running:
                if self._next is run:  # not run yet: this caller runs it, for all who joined
                    self._next = None
                    await _settling(run, self._work())
            if await _outcome_of(run):
                return


async def _settling(run: asyncio.Future[None], work: Awaitable[None]) -> None:
    """Do `work`, telling everyone who waits on `run` how it went (the runner raises too)."""
    try:
        await work
    except asyncio.CancelledError:
        run.cancel()  # only the runner was cancelled: the others try again
        raise
    except Exception as exc:
        run.set_exception(exc)
        run.exception()  # raised here; the others read it from the future
        raise
    run.set_result(None)


async def _outcome_of(run: asyncio.Future[None]) -> bool:
    """Wait for a run that someone may be doing for this caller too: True once it is done
    (raising its error), False when its runner was cancelled, not this caller: try again."""
    try:
        await asyncio.shield(run)  # this caller's cancellation is not the others'
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if run.cancelled() and not (task is not None and task.cancelling()):
            return False
        raise
    return True


class Directory:
    def __init__(
        self,
        therapists: Documents,
        outcomes: Documents,
        journal_store: Documents,
        *,
        instance: str,
        clock: Clock,
        outcome_prior_strength: float = 10.0,
        journal_length: int = 500,
        reload_seconds: float = 900.0,
    ) -> None:
        self._therapists = therapists
        self._outcomes = outcomes
        self._journal = journal.Journal(journal_store)
        self._instance = instance
        self._clock = clock
        self._strength = outcome_prior_strength
        self._journal_length = journal_length
        self._reload_every = timedelta(seconds=reload_seconds)
        # Entries written longer ago than this may be pruned (beyond the last
        # `journal_length`); a replica that saw the journal's end within half of it knows
        # its next entry was not (journal.py), else it reads the floor.
        self._retain = 2 * self._reload_every
        self.index = DirectoryIndex(OutcomeBook(outcome_prior_strength))
        self._version: int | None = None  # None until loaded
        self._end_seen_at: datetime | None = None  # when `_version + 1` was last seen missing
        self._loaded_at: datetime | None = None
        self._looked_at = float("-inf")  # monotonic: when the last catch-up (or load) began
        self._lock = asyncio.Lock()
        self._reload: asyncio.Task[None] | None = None
        # One list per load in progress: what this replica applied meanwhile, applied again to
        # the loaded index before it takes the place of the current one (the load's scan may
        # have read those documents before they were written).
        self._captures: list[list[tuple[str, Mapping[str, Any]]]] = []
        self._appending = asyncio.Lock()
        self._open_batch: _Batch | None = None
        self._catch_up = _Shared(self._read_journal)

    @property
    def version(self) -> int | None:
        return self._version

    async def current(self, *, fresh_within: float = 0.0) -> DirectoryIndex:
        """The index, caught up with every change the journal names (or named when a catch-up
        that began less than `fresh_within` seconds ago looked)."""
        if self._version is None:
            await self._load_once()
        elif not fresh_within or time.monotonic() - self._looked_at >= fresh_within:
            await self._catch_up()
        self._maybe_reload_in_background()
        return self.index

    # ------------------------------------------------------------------ own writes

    def apply(self, collection: str, document: Mapping[str, Any] | None) -> None:
        """Apply a document this replica just wrote (or read fresh) to the index."""
        if document is None:
            return
        self._apply(self.index, collection, document)
        DIRECTORY_SIZE.set(len(self.index))
        for capture in self._captures:
            capture.append((collection, document))

    async def record(self, refs: Iterable[str]) -> None:
        """Tell the other replicas which documents changed (after they changed).

        Appends in this replica are grouped: whoever records while an append is being
        written joins the next one, which carries every id gathered meanwhile. This turns
        one append per change into one per moment of writing, and each caller still returns
        only once its ids are stored (or raises if they were not).
        """
        wanted = set(refs)
        if not wanted:
            return
        while True:
            batch = self._open_batch or _Batch()
            self._open_batch = batch
            batch.refs |= wanted
            async with self._appending:
                if self._open_batch is batch:  # nobody wrote it yet: this caller does, for all in it
                    self._open_batch = None
                    await _settling(batch.done, self._append(batch.refs))
            if await _outcome_of(batch.done):
                return

    # ------------------------------------------------------------------ writes through it

    async def upsert_therapist(self, therapist_id: str, change: Creation) -> Document | None:
        """Create or change one therapist, apply them here and tell the other replicas."""
        document = await self._therapists.upsert(therapist_id, change)
        self.apply(journal.THERAPISTS, document)
        await self.record([journal.ref(journal.THERAPISTS, therapist_id)])
        return document

    async def change_therapists(self, changes: Iterable[tuple[str, Change]]) -> dict[str, Document]:
        """Apply each (therapist id, change), keep this index in step, tell the other replicas.

        Returns the documents as they are now, by therapist id (absent: no such therapist).
        """
        changed: list[str] = []
        written = await self.change_therapists_together(list(changes), changed)
        await self.record(journal.ref(journal.THERAPISTS, t) for t in changed)
        return written

    async def change_therapists_together(
        self, changes: Sequence[tuple[str, Change]], changed: list[str]
    ) -> dict[str, Document]:
        """Apply each change to its therapist as stored, all written at once (`update_many`), and
        to this index; the caller records `changed` (the ids actually changed) in the journal,
        once for a batch. Returns the documents as they are now (absent: no such therapist)."""
        documents = await self._therapists.update_many(
            [(therapist_id, _noting(change, therapist_id, changed)) for therapist_id, change in changes]
        )
        for document in documents.values():
            self.apply(journal.THERAPISTS, document)  # fresh either way
        return {therapist_id: d for therapist_id, d in documents.items() if d is not None}

    # ------------------------------------------------------------------ internals

    def _apply(self, index: DirectoryIndex, collection: str, document: Mapping[str, Any]) -> None:
        if collection == journal.THERAPISTS:
            therapist = therapist_from_document(document)
            if therapist is None:
                index.remove(document["_id"], revision=int(document.get("revision", 0)))
            else:
                index.put(therapist)
        elif collection == journal.OUTCOMES:
            therapist_id, concern, counts, revision = counts_from_document(document)
            index.outcomes.put(therapist_id, concern, counts, revision=revision)

    async def _append(self, refs: set[str]) -> None:
        """Insert one entry at the next version; if another replica took it, read what that
        replica wrote (needed before the next ranking anyway) and try the version after."""
        if self._version is None:
            await self._load_once()
        elif not self._end_seen_recently():
            await self._catch_up()  # the next version may have been pruned: the floor tells
        while True:
            assert self._version is not None
            version, now = self._version + 1, self._clock()
            if await self._journal.append(version, refs, by=self._instance, at=now):
                if self._version == version - 1:  # nothing unread before it
                    self._version, self._end_seen_at = version, now
                return
            await self._catch_up()

    async def _load(self) -> tuple[DirectoryIndex, int, datetime]:
        looked_at = self._clock()
        version = await self._journal.tip(self._version or 0)
        index = DirectoryIndex(OutcomeBook(self._strength))
        for document in await self._therapists.find({}):
            self._apply(index, journal.THERAPISTS, document)
        for document in await self._outcomes.find({}):
            self._apply(index, journal.OUTCOMES, document)
        index.prepare(week_key(self._clock()))
        return index, version, looked_at

    async def _load_once(self) -> None:
        async with self._lock:
            if self._version is None:
                await self._load_into_place()

    @contextmanager
    def _capturing(self) -> Iterator[list[tuple[str, Mapping[str, Any]]]]:
        """What this replica applies while the block runs (a load in progress)."""
        capture: list[tuple[str, Mapping[str, Any]]] = []
        self._captures.append(capture)
        try:
            yield capture
        finally:
            self._captures.remove(capture)

    async def _load_into_place(self) -> None:
        """Load, and put the index in place with what this replica wrote meanwhile: the load at
        start runs in the background, and the first writes (a therapist registered at once)
        must not be dropped by a scan that read before them."""
        with self._capturing() as written:
            self._looked_at = time.monotonic()
            index, version, looked_at = await self._load()
            for collection, document in written:
                self._apply(index, collection, document)
            self.index, self._version, self._end_seen_at = index, version, looked_at
        self._loaded_at = self._clock()
        DIRECTORY_SIZE.set(len(self.index))
        log.info("directory loaded", therapists=len(self.index), version=self._version)

    async def warm_up(self) -> None:
        """Load now rather than at the first intake (started in the background at start-up)."""
        try:
            await self.current()
        except Exception:
            log.exception("directory load at start failed; the first ranking loads it")

    def _end_seen_recently(self) -> bool:
        return self._end_seen_at is not None and self._clock() - self._end_seen_at < self._retain / 2

    async def _read_journal(self) -> None:
        """Read the entries after this replica's version, up to the first missing one, and
        re-read by `_id` the documents other replicas changed."""
        async with self._lock:
            assert self._version is not None
            start, looked_at, self._looked_at = self._version, self._clock(), time.monotonic()
            entries: list[Document] = []
            while len(entries) <= self._journal_length:
                found = await self._journal.read(start + len(entries) + 1)
                if found is None:
                    break
                entries.append(found)
            missing = start + len(entries) + 1
            if len(entries) > self._journal_length or (
                not self._end_seen_recently() and await self._journal.floor() > missing
            ):
                log.info("directory fell behind its journal; reloading", version=start)
                await self._load_into_place()
                return
            refs = {r for e in entries if e.get("by") != self._instance for r in e["refs"]}
            for reference in sorted(refs):
                collection, _, document_id = reference.partition("/")
                store = self._therapists if collection == journal.THERAPISTS else self._outcomes
                document = await store.get(document_id)
                if document is not None:
                    self.apply(collection, document)
                elif collection == journal.THERAPISTS:
                    self.index.remove(document_id)
            self._version = max(self._version, missing - 1)  # an own append may have moved it on
            self._end_seen_at = looked_at

    def _maybe_reload_in_background(self) -> None:
        if self._loaded_at is None or self._reload is not None:
            return
        if self._clock() - self._loaded_at < self._reload_every:
            return
        self._reload = asyncio.create_task(self._reload_in_background(), name="directory-reload")

    async def _reload_in_background(self) -> None:
        try:
            if (version := await self._reload_aside()) is not None:
                await self._prune(version)
        finally:
            self._reload = None

    async def _reload_aside(self) -> int | None:
        """Build a fresh index aside, then swap it in with what this replica wrote meanwhile;
        return the journal version it is current with (None: the reload failed)."""
        try:
            with self._capturing() as written:
                index, version, looked_at = await self._load()
                async with self._lock:
                    for collection, document in written:
                        self._apply(index, collection, document)
                    # the journal since `version` follows
                    self.index, self._version, self._end_seen_at = index, version, looked_at
                    self._loaded_at = self._clock()
        except Exception:
            log.exception("directory reload failed; the journal keeps this replica current meanwhile")
            self._loaded_at = self._clock()
            return None
        DIRECTORY_SIZE.set(len(index))
        log.info("directory reloaded", therapists=len(index), version=version)
        return version

    async def _prune(self, tip: int) -> None:
        """Housekeeping: delete the entries every replica is past (see journal.py)."""
        now = self._clock()
        try:
            pruned = await self._journal.prune(
                tip=tip, keep=self._journal_length, written_before=now - self._retain, now=now
            )
        except Exception:
            log.exception("journal pruning failed; the next reload tries again")
            return
        if pruned:
            log.info("directory journal pruned", count=pruned, version=tip)


def _noting(change: Change, therapist_id: str, changed: list[str]) -> Change:
    """`change`, noting in `changed` when it did change the document (worth a journal entry)."""

    def noted(current: Document) -> Revision | None:
        revision = change(current)
        if revision is not None:
            changed.append(therapist_id)
        return revision

    return noted
