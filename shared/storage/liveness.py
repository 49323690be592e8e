"""Which replicas are alive: a heartbeat record per replica, so a dead one's leases go at once.

A lease (`locks.py`) has to outlast the slowest live holder, so it lasts tens of seconds.
Waiting that long for a replica that was `kill -9`ed would hold a risk alert or a booking
for the whole lease. So every replica renews its own record in the `replicas`
collection (`_id` = its instance name, written only by itself) every second or so; a
lease whose owner's record has not been renewed within `timeout` may be taken over at
once. A record that is missing says nothing (a tool or a test holding a lease without
a heartbeat): such leases fall back to their expiry.

Known limit: comparing `alive_until` (the holder's clock) with the reader's clock
assumes replica clocks agree to well within `timeout` (NTP keeps them to milliseconds).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.background import Pacer
from shared.observability.logs import get_logger

log = get_logger(__name__)


class Liveness:
    """This replica's heartbeat, and the question "is that owner dead?" for everyone."""

    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        *,
        instance: str,
        interval: timedelta = timedelta(seconds=1),
        timeout: timedelta = timedelta(seconds=3),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if timeout <= interval:
            raise ValueError("the liveness timeout must be longer than the heartbeat interval")
        self._collection = collection
        self.instance = instance
        self._timeout = timeout
        self._clock = clock
        self._pacer = Pacer(interval.total_seconds())
        self._alive_until: datetime | None = None  # as last written; None before the first beat
        self._retired = False
        self._written = False  # a beat was sent (it may have landed although it failed here)

    async def beat(self) -> None:
        """Say "alive for another `timeout`"; the one write only this replica makes to its record."""
        now = self._clock()
        self._written = True
        await self._collection.update_one(
            {"_id": self.instance},
            {"$set": {"alive_until": now + self._timeout, "beat_at": now}},
            upsert=True,
        )
        if not self._retired:
            self._alive_until = now + self._timeout

    def vouches(self, owner: str, until: datetime) -> bool:
        """Whether no peer can find `owner` dead before `until`: it is this replica, and its
        record is unwritten (peers then say nothing) or says alive past `until`."""
        if owner != self.instance or self._retired:
            return False
        if self._alive_until is None:
            return not self._written
        return self._alive_until > until

    async def is_dead(self, owner: str) -> bool:
        """True only for an owner whose record exists and was not renewed in time."""
        record = await self._collection.find_one({"_id": owner}, {"alive_until": 1})
        return record is not None and record["alive_until"] < self._clock()

    async def run(self) -> None:
        """Beat until `stop()`; a failed beat is retried at the next interval."""
        while not self._pacer.stopped:
            try:
                await self.beat()
            except Exception:
                log.warning("heartbeat failed; will retry", exc_info=True)
            await self._pacer.pause()

    def stop(self) -> None:
        self._pacer.stop()

    async def retire(self) -> None:
        """On a clean stop: end the record now, so peers take over what only this replica
        remembered (timers) at once; housekeeping deletes it like a dead replica's."""
        self._retired = True
        await self._collection.update_one(
            {"_id": self.instance}, {"$set": {"alive_until": self._clock() - timedelta(microseconds=1)}}
        )

    async def dead_owners(self) -> list[str]:
        """Replicas whose heartbeat ran out (housekeeping; a scan of a small collection)."""
        cursor = self._collection.find({"alive_until": {"$lt": self._clock()}}, {"_id": 1})
        return [record["_id"] async for record in cursor]

    async def forget(self, owners: list[str]) -> None:
        if owners:
            await self._collection.delete_many(
                {"_id": {"$in": owners}, "alive_until": {"$lt": self._clock()}}
            )
