"""The shared journal of directory changes: one small document per entry, `_id` = its version.

    {_id: "j:000000000042", v: 42, by: <instance>, refs: ["therapists/<id>", "outcomes/<id>"], at}
    {_id: "floor", floor: n}         entries below n were pruned (absent: none were)

Replicas of matching share one consumer group, so each consumes only some partitions:
replica A books a client with a therapist, replica B ranks the next intake. A writer
appends the ids of the documents it changed (after changing them); a replica at version v
reads v+1, v+2, ... by lone `_id` lookups before ranking (the only filter FerretDB serves
from an index; a range over `_id` would read the whole collection), stops at the first
missing one, and re-reads by `_id` only what those entries name.

An append is one unique insert of the next version: the insert is the claim, so two
replicas appending at once never overwrite each other; the one that loses reads what it
missed and inserts after it. No holes: a writer only tries version v after it saw v - 1
(read it, wrote it, or lost the insert of it), so the versions ever written are 1..tip
without a gap, and a reader that finds v + 1 missing has read everything written so far
(a slower writer's entry, not there yet, is read next time). A crashed writer leaves no
hole either: its insert is the whole append, done or not.

Pruning (housekeeping, with a replica's periodic reload): entries older than the last
`keep` and written more than `retain` ago are deleted by `_id`, after the floor is raised
above them. A replica that saw the journal's end less than `retain / 2` ago knows that
v + 1 was written after that look, so it cannot have been pruned; one that looked longer
ago reads the floor as well, and reloads everything when it fell below it (as one further
behind than `keep` entries does).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from shared.ports import Documents
from shared.storage import Document
from shared.storage.documents import Creation, Revision

COLLECTION = "directory"
FLOOR_ID = "floor"
THERAPISTS = "therapists"
OUTCOMES = "outcomes"


def ref(collection: str, document_id: str) -> str:
    return f"{collection}/{document_id}"


def entry_id(version: int) -> str:
    """Fixed width, so ids sort as versions do (for a person browsing the collection)."""
    return f"j:{version:012d}"


def entry(version: int, refs: Iterable[str], *, by: str, at: datetime) -> Document:
    return {"_id": entry_id(version), "v": version, "by": by, "refs": sorted(set(refs)), "at": at}


def floor_of(document: Mapping[str, Any] | None) -> int:
    """The lowest version not pruned."""
    return int((document or {}).get("floor", 1))


def raised_floor(to: int, now: datetime, claimed: list[int]) -> Creation:
    """Raise the floor to `to` (never lower it); `claimed` gets the versions this raise prunes,
    so two replicas pruning at once delete each entry once."""

    def change(current: Document | None) -> Revision | None:
        held = floor_of(current)
        if held >= to:
            return None
        claimed.extend(range(held, to))
        return Revision({"floor": to, "updated_at": now})

    return change


class Journal:
    """The journal's reads and writes, every one of them by a lone `_id`."""

    def __init__(self, store: Documents) -> None:
        self._store = store

    async def read(self, version: int) -> Document | None:
        return await self._store.get(entry_id(version))

    async def append(self, version: int, refs: Iterable[str], *, by: str, at: datetime) -> bool:
        """Write the entry of `version` (one round trip); False if another writer has it."""
        taken = await self._store.insert_many([entry(version, refs, by=by, at=at)])
        return not taken

    async def floor(self) -> int:
        return floor_of(await self._store.get(FLOOR_ID))

    async def tip(self, start: int = 0) -> int:
        """The last version written, searching upward from `start` (one seen, or 0).

        Versions floor..tip all exist, so one existence probe per doubling, then a
        bisection: about 2·log2(entries since `start`) lookups. Off the hot path (loads).
        """
        while True:
            low = max(start, await self.floor() - 1)
            step = 1
            while await self.read(low + step) is not None:
                low, step = low + step, step * 2
            high = low + step  # missing
            while high - low > 1:
                middle = (low + high) // 2
                if await self.read(middle) is not None:
                    low = middle
                else:
                    high = middle
            if await self.floor() <= low + 1:
                return low
            start = low  # pruning overtook the search: search again above the new floor

    async def prune(self, *, tip: int, keep: int, written_before: datetime, now: datetime) -> int:
        """Delete entries older than the last `keep` before `tip` and written before
        `written_before`; return how many this replica deleted."""
        floor = await self.floor()
        last = tip - keep
        if last < floor:
            return 0
        if not await self._written_before(last, written_before):
            low, high = floor - 1, last  # `at` grows with the version: bisect for the newest old one
            while high - low > 1:
                middle = (low + high) // 2
                if await self._written_before(middle, written_before):
                    low = middle
                else:
                    high = middle
            last = low
            if last < floor:
                return 0
        claimed: list[int] = []
        await self._store.upsert(FLOOR_ID, raised_floor(last + 1, now, claimed))
        for version in claimed:
            # Known shortcut: `Documents.delete` takes the entry's lease (about 4 round trips),
            # needless for an entry nobody changes; the real fix is a lease-free delete of
            # event-free documents by `_id`s in one bulk write on the `Documents` port.
            await self._store.delete(entry_id(version))
        return len(claimed)

    async def _written_before(self, version: int, moment: datetime) -> bool:
        found = await self.read(version)
        return found is None or found["at"] < moment
