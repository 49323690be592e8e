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

Most events are checked from memory alone. The inbox remembers the last `remembered` ids it
handled; an event written (its `ce_time`) after this consumer was given its partition, and
after the newest event it forgot, can only have come before to this consumer, since then:
it is a duplicate exactly when it is remembered. A clock skew margin covers producers' clocks.
Only older events (a replay, a rebalance's redelivery, a relay's late resend) are looked up
in the collection, by `_id`.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.storage.bulk import insert_new

CLOCK_SKEW = timedelta(seconds=5)
"""How far a producer's clock may run ahead of this consumer's (far more than NTP allows)."""

REMEMBERED = 20_000
"""Handled ids kept in memory (about 3 MB): an hour or more of one consumer's traffic."""


class Inbox:
    def __init__(self, collection: AsyncCollection[dict[str, Any]], *, remembered: int = REMEMBERED) -> None:
        self._collection = collection
        self._unsaved: dict[str, dict[str, Any]] = {}
        self._remembered = remembered
        # Handled keys, in the order handled -> (the event's time, when it was handled).
        self._recent: OrderedDict[str, tuple[datetime, datetime]] = OrderedDict()
        self._forgotten_up_to = datetime.min.replace(tzinfo=UTC)  # the newest event time forgotten

    @staticmethod
    def _key(consumer: str, event_id: str) -> str:
        return f"{consumer}/{event_id}"

    async def has_handled(
        self,
        consumer: str,
        event_id: str,
        *,
        written_at: datetime | None = None,
        owned_since: datetime | None = None,
    ) -> bool:
        """Whether the event was handled: from memory when `written_at` (its `ce_time`) is after
        both `owned_since` (when this consumer was given the event's partition) and the newest
        event forgotten, else from the collection."""
        key = self._key(consumer, event_id)
        if key in self._unsaved or key in self._recent:
            return True
        if self.remembers_all_since(written_at, owned_since):
            return False
        found = await self._collection.find_one({"_id": key}, {"_id": 1})
        return found is not None

    def remembers_all_since(self, written_at: datetime | None, owned_since: datetime | None) -> bool:
        """Whether every earlier copy of an event written at `written_at` was handled here and
        is remembered: sent after this consumer owned the partition, and after what it forgot."""
        if written_at is None or owned_since is None:
            return False
        return written_at > max(owned_since, self._forgotten_up_to) + CLOCK_SKEW

    def note_handled(
        self, consumer: str, event_id: str, *, topic: str, written_at: datetime | None = None
    ) -> None:
        """Remember a handled event until `save` stores it (before offsets pass it), and after."""
        key = self._key(consumer, event_id)
        now = datetime.now(UTC)
        self._unsaved[key] = {"_id": key, "topic": topic, "handled_at": now}
        self._recent[key] = (written_at or now, now)  # remembered at once, also while being saved
        while len(self._recent) > self._remembered:
            self._forget_oldest()

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

    def _forget_oldest(self) -> None:
        _, (written_at, _) = self._recent.popitem(last=False)
        self._forgotten_up_to = max(self._forgotten_up_to, written_at)

    async def prune(self, handled_before: datetime) -> int:
        """Forget events handled before `handled_before`; return how many were removed."""
        while self._recent and next(iter(self._recent.values()))[1] < handled_before:
            self._forget_oldest()
        result = await self._collection.delete_many({"handled_at": {"$lt": handled_before}})
        return result.deleted_count
