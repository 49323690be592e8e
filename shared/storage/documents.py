"""Writes to a service's documents: one writer per document at a time, events in the same write.

On the common subset (DESIGN §5) a state change and its events must be one
single-document write, and on FerretDB 1.24 two concurrent updates of one document can
lose one of them (see `locks.py`). So a `DocumentStore` changes a document only while
holding that document's lease, reading it, applying a pure change, and replacing it
whole, with the change's events merged into the document's outbox. The outbox relay takes
the same lease before it marks events sent, so it never overwrites a concurrent change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.events.envelope import OutgoingEvent
from shared.storage.locks import Locks, document_lock
from shared.storage.outbox import OUTBOX, PENDING, outbox_entries, with_outbox

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Revision:
    """The new state of a document and the events the change causes."""

    document: Mapping[str, Any]
    events: Sequence[OutgoingEvent] = field(default_factory=tuple)


Change = Callable[[Document], Revision | None]
"""A pure function of the current document (without outbox fields); None leaves it as is."""


class DocumentStore:
    def __init__(
        self,
        collection: AsyncCollection[Document],
        locks: Locks,
        *,
        owner: str,
        lock_ttl: timedelta = timedelta(seconds=30),
        wait_seconds: float = 10.0,
        on_events: Callable[[], None] = lambda: None,
    ) -> None:
        self.collection = collection
        self._locks = locks
        self._owner = owner
        self._lock_ttl = lock_ttl
        self._wait_seconds = wait_seconds
        self._on_events = on_events

    async def get(self, document_id: Any) -> Document | None:
        found = await self.collection.find_one({"_id": document_id})
        return None if found is None else _without_outbox(found)

    async def insert(self, document: Mapping[str, Any], events: Sequence[OutgoingEvent] = ()) -> None:
        """Create a document with its events; DuplicateKeyError if the `_id` exists already."""
        await self.collection.insert_one(with_outbox(document, events))
        if events:
            self._on_events()

    async def update(self, document_id: Any, change: Change) -> Document | None:
        """Apply `change` to the current document under its lease; return the new state.

        Returns None when the document does not exist. Raises `LockTimeout` when another
        writer holds the document for longer than `wait_seconds` (a transient error).
        """
        async with self._locks.held(
            document_lock(self.collection, document_id),
            self._owner,
            self._lock_ttl,
            wait_seconds=self._wait_seconds,
        ):
            current = await self.collection.find_one({"_id": document_id})
            if current is None:
                return None
            revision = change(_without_outbox(current))
            if revision is None:
                return _without_outbox(current)
            pending = {**(current.get(OUTBOX) or {}), **outbox_entries(revision.events)}
            replacement = {**revision.document, "_id": document_id, OUTBOX: pending, PENDING: len(pending)}
            await self.collection.replace_one({"_id": document_id}, replacement)
        if revision.events:
            self._on_events()
        return _without_outbox(replacement)


def _without_outbox(document: Mapping[str, Any]) -> Document:
    return {k: v for k, v in document.items() if k not in (OUTBOX, PENDING)}
