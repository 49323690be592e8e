"""The inbox: which events a consumer has already handled (DESIGN §4).

A handled event id is recorded as a document with a unique `_id`, so a redelivered
event is recognised and skipped. Records older than the retention (longer than any
broker retention or replay window) are pruned, since TTL indexes are outside the
common subset (DESIGN §5). Handlers keep their own writes idempotent as well
(deterministic ids derived from the event), which covers the window between a
handler's effect and the inbox record if the process dies right there.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError


class Inbox:
    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self._collection = collection

    @staticmethod
    def _key(consumer: str, event_id: str) -> str:
        return f"{consumer}/{event_id}"

    async def has_handled(self, consumer: str, event_id: str) -> bool:
        found = await self._collection.find_one({"_id": self._key(consumer, event_id)}, {"_id": 1})
        return found is not None

    async def mark_handled(self, consumer: str, event_id: str, *, topic: str) -> None:
        # A duplicate means another delivery of the same event got here first: same effect.
        with suppress(DuplicateKeyError):
            await self._collection.insert_one(
                {
                    "_id": self._key(consumer, event_id),
                    "topic": topic,
                    "handled_at": datetime.now(UTC),
                }
            )

    async def prune(self, handled_before: datetime) -> int:
        """Forget events handled before `handled_before`; return how many were removed."""
        result = await self._collection.delete_many({"handled_at": {"$lt": handled_before}})
        return result.deleted_count
