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
Older events are looked up in the collection, by `_id`, unless they are newer than anything any
replica of the consumer ever stored: each save first stores, in one small document per consumer
(`saved_until`), a time at least as late as every event time it stores, reaching a minute ahead
so that it is written about twice a minute, not at every save. Read once after a partition is
given here, it lets a backlog written after the last consumer stopped (a catch-up after an
outage, a new consumer group) go unread, while a rebalance's redelivery and a relay's late
resend (their times are older) are still looked up.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.storage.bulk import insert_new

CLOCK_SKEW = timedelta(seconds=5)
"""How far a producer's clock may run ahead of this consumer's (far more than NTP allows)."""

REMEMBERED = 20_000
"""Handled ids kept in memory (about 3 MB): an hour or more of one consumer's traffic."""

SAVED_UNTIL_AHEAD = timedelta(minutes=1)
"""How far past the newest event time saved a consumer's `saved_until` reaches: written again
once that newest time comes within half of it, so about twice a minute for a busy consumer."""

_NEVER = datetime.min.replace(tzinfo=UTC)


def saved_until_id(consumer: str) -> str:
    """The `_id` of the consumer's `saved_until` document (no event key has `#` after the consumer)."""
    return f"{consumer}#saved-until"


class Inbox:
    def __init__(self, collection: AsyncCollection[dict[str, Any]], *, remembered: int = REMEMBERED) -> None:
        self._collection = collection
        self._unsaved: dict[str, dict[str, Any]] = {}
        self._remembered = remembered
        # Handled keys, in the order handled -> (the event's time, when it was handled).
        self._recent: OrderedDict[str, tuple[datetime, datetime]] = OrderedDict()
        self._forgotten_up_to = _NEVER  # the newest event time forgotten
        self._unsaved_newest: dict[str, datetime] = {}  # per consumer: the newest event time unsaved
        self._vouched: dict[str, datetime] = {}  # per consumer: the `saved_until` this process stored
        # Per consumer: `saved_until` as read, and when its read began.
        self._read: dict[str, tuple[datetime, datetime]] = {}
        self._reading: dict[str, tuple[datetime, asyncio.Future[datetime]]] = {}  # reads in flight

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
        the newest event forgotten and either after `owned_since` (when this consumer was given
        the event's partition) or after the consumer's `saved_until`; else from the collection."""
        key = self._key(consumer, event_id)
        if key in self._unsaved or key in self._recent:
            return True
        if (
            written_at is not None
            and owned_since is not None
            and written_at > self._forgotten_up_to + CLOCK_SKEW
        ):
            # Not forgotten here. Written after the partition was given here: only this consumer
            # can have seen it. Or newer than anything any replica ever stored: not even a copy.
            if written_at > owned_since + CLOCK_SKEW:
                return False
            if written_at > await self._saved_until(consumer, owned_since):
                return False
        found = await self._collection.find_one({"_id": key}, {"_id": 1})
        return found is not None

    async def _saved_until(self, consumer: str, owned_since: datetime) -> datetime:
        """The consumer's `saved_until`, as read after `owned_since` (one read per partition
        given, shared by the records that ask meanwhile). Read before, it could miss what the
        partition's previous owner stored last."""
        known = self._read.get(consumer)
        if known is not None and known[1] >= owned_since:
            return known[0]
        reading = self._reading.get(consumer)
        if reading is None or reading[0] < owned_since:
            began = datetime.now(UTC)
            task = asyncio.ensure_future(self._read_saved_until(consumer, began))
            reading = self._reading[consumer] = (began, task)
            task.add_done_callback(lambda done: self._read_done(consumer, done))
        return await asyncio.shield(reading[1])

    async def _read_saved_until(self, consumer: str, began: datetime) -> datetime:
        found = await self._collection.find_one({"_id": saved_until_id(consumer)}, {"until": 1})
        until: datetime = _NEVER if found is None else found["until"]
        known = self._read.get(consumer)
        if known is None or known[1] < began:
            self._read[consumer] = (until, began)
        return until

    def _read_done(self, consumer: str, task: asyncio.Future[datetime]) -> None:
        if self._reading.get(consumer, (None, None))[1] is task:
            del self._reading[consumer]
        if not task.cancelled():
            task.exception()  # raised to whoever awaits it; none left is no error of its own

    def note_handled(
        self, consumer: str, event_id: str, *, topic: str, written_at: datetime | None = None
    ) -> None:
        """Remember a handled event until `save` stores it (before offsets pass it), and after."""
        key = self._key(consumer, event_id)
        now = datetime.now(UTC)
        self._unsaved[key] = {"_id": key, "topic": topic, "handled_at": now}
        self._recent[key] = (written_at or now, now)  # remembered at once, also while being saved
        newest = self._unsaved_newest.get(consumer, _NEVER)
        self._unsaved_newest[consumer] = max(newest, written_at or now)
        while len(self._recent) > self._remembered:
            self._forget_oldest()

    async def save(self) -> None:
        """Store every noted id in one round trip; ids stored already (a duplicate) are fine.

        Before them, where a consumer's newest event time comes within half of `SAVED_UNTIL_AHEAD`
        of its `saved_until`, a later one (one more round trip, about twice a minute)."""
        if not self._unsaved:
            return
        batch, self._unsaved = self._unsaved, {}
        newest, self._unsaved_newest = self._unsaved_newest, {}
        try:
            for consumer, written_at in newest.items():
                await self._vouch(consumer, written_at)
            await insert_new(self._collection, list(batch.values()))  # a duplicate: stored before
        except BaseException:
            self._unsaved = {**batch, **self._unsaved}
            for consumer, written_at in newest.items():
                self._unsaved_newest[consumer] = max(written_at, self._unsaved_newest.get(consumer, _NEVER))
            raise

    async def _vouch(self, consumer: str, written_at: datetime) -> None:
        """Make the stored `saved_until` later than `written_at`, if this process has not already."""
        if written_at + SAVED_UNTIL_AHEAD / 2 <= self._vouched.get(consumer, _NEVER):
            return
        until = max(written_at, datetime.now(UTC)) + SAVED_UNTIL_AHEAD
        marker = {"_id": saved_until_id(consumer)}
        try:  # `$max`: replicas of the consumer may write it at once; it only ever grows
            await self._collection.update_one(marker, {"$max": {"until": until}}, upsert=True)
        except DuplicateKeyError:  # two first upserts met: it exists now
            await self._collection.update_one(marker, {"$max": {"until": until}})
        self._vouched[consumer] = until

    def _forget_oldest(self) -> None:
        _, (written_at, _) = self._recent.popitem(last=False)
        self._forgotten_up_to = max(self._forgotten_up_to, written_at)

    async def prune(self, handled_before: datetime) -> int:  # `saved_until` has no `handled_at`
        """Forget events handled before `handled_before`; return how many were removed."""
        while self._recent and next(iter(self._recent.values()))[1] < handled_before:
            self._forget_oldest()
        result = await self._collection.delete_many({"handled_at": {"$lt": handled_before}})
        return result.deleted_count
