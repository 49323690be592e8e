"""Reads of a recipient reused for a moment: one intake's notices come within a tenth of a second.

A client's intake-received, match-proposed and session-booked notices are handled within about
60 ms of each other here, and each read the client's recipient document: three of the four
recipient reads per intake in the journey. A read this process made less than `reuse_seconds`
ago (a quarter of a second by default) is handed out again instead, and reads of one recipient
asked for at once share one round trip.

How stale it can be: a change this process writes drops the copy at once (and a read that a
write met is not kept); a change written by another replica reaches a notice here at most
`reuse_seconds` later: about what a change takes anyway to travel as an event, and far less
than a notice's own way through the pipeline. Zero turns reuse off. A read for a write (a
preference change, a registration) is never served from it.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from shared.storage import Document

KEPT = 4096
"""Copies kept at most (oldest dropped first): a quarter of a second's worth at any rate."""


class RecentReads:
    """`read(id)` through a short-lived copy; `changed(id)` around every write of that id."""

    def __init__(
        self,
        read: Callable[[str], Awaitable[Document | None]],
        *,
        reuse_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._reuse = reuse_seconds
        self._clock = clock
        self._kept: OrderedDict[str, tuple[float, Document | None]] = OrderedDict()
        self._reading: dict[str, asyncio.Future[Document | None]] = {}
        self._writes: dict[str, int] = {}  # per id, bumped as a write begins and as it ends

    async def get(self, document_id: str) -> Document | None:
        """The document as read less than `reuse_seconds` ago here, else as stored now."""
        if not self._reuse:
            return await self._read(document_id)
        kept = self._kept.get(document_id)
        if kept is not None and self._clock() - kept[0] < self._reuse:
            return copy.deepcopy(kept[1])
        reading = self._reading.get(document_id)
        if reading is None:
            reading = asyncio.ensure_future(self._read_and_keep(document_id))
            self._reading[document_id] = reading
            reading.add_done_callback(lambda done: self._done_reading(document_id, done))
        return copy.deepcopy(await asyncio.shield(reading))

    def _done_reading(self, document_id: str, done: asyncio.Future[Document | None]) -> None:
        if self._reading.get(document_id) is done:
            del self._reading[document_id]

    async def _read_and_keep(self, document_id: str) -> Document | None:
        started, writes = self._clock(), self._writes.get(document_id, 0)
        found = await self._read(document_id)
        if self._writes.get(document_id, 0) == writes:  # no write of it began or ended meanwhile
            self._kept[document_id] = (started, found)
            self._kept.move_to_end(document_id)
            if len(self._kept) > KEPT:
                self._kept.popitem(last=False)
        return found

    def changed(self, *document_ids: Any) -> None:
        """A write of these documents begins or ended: their copies are not handed out again."""
        for document_id in map(str, document_ids):
            self._kept.pop(document_id, None)
            self._writes[document_id] = self._writes.get(document_id, 0) + 1
            self._reading.pop(document_id, None)  # a read in flight may predate the write
        if len(self._writes) > KEPT:
            self._writes.clear()  # reads in flight then see a change and keep nothing
