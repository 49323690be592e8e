"""The inbox: which events a consumer has already handled (DESIGN §4).

A handled event id is recorded as a document with a unique `_id`, so a redelivered
event is recognised and skipped. Records older than the retention (longer than any
broker retention or replay window) are pruned, since TTL indexes are outside the
common subset (DESIGN §5). Handlers keep their own writes idempotent as well
(deterministic ids derived from the event), which covers the window between a
handler's effect and the inbox record if the process dies right there.

The consume pipeline notes a handled id in memory (`note_handled`) and the offset committer
stores every noted id in one `insert_many` (`save`) just before it commits offsets past
them: one round trip per commit instead of one per event. Until then the id is in memory,
so a duplicate arriving meanwhile is still recognised; if the process dies first, neither
the ids nor the offsets were stored, and the redelivered events meet the handlers' own
idempotence, exactly as after a crash between effect and record before.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.storage.bulk import insert_new


class Inbox:
    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self._collection = collection
        self._unsaved: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _key(consumer: str, event_id: str) -> str:
        return f"{consumer}/{event_id}"

    async def has_handled(self, consumer: str, event_id: str) -> bool:
        if self._key(consumer, event_id) in self._unsaved:
            return True
        found = await self._collection.find_one({"_id": self._key(consumer, event_id)}, {"_id": 1})
        return found is not None

    def note_handled(self, consumer: str, event_id: str, *, topic: str) -> None:
        """Remember a handled event until `save` stores it (before offsets pass it)."""
        key = self._key(consumer, event_id)
        self._unsaved[key] = {"_id": key, "topic": topic, "handled_at": datetime.now(UTC)}

    async def save(self) -> None:
        """Store every noted id in one round trip; ids stored already (a duplicate) are fine."""
        if not self._unsaved:
            return
        batch, self._unsaved = self._unsaved, {}
        try:
            await insert_new(self._collection, list(batch.values()))  # a duplicate: stored before
        except BaseException:
            self._unsaved = {**batch, **self._unsaved}
            raise

    async def prune(self, handled_before: datetime) -> int:
        """Forget events handled before `handled_before`; return how many were removed."""
        result = await self._collection.delete_many({"handled_at": {"$lt": handled_before}})
        return result.deleted_count
