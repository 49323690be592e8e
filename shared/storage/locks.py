"""Leases claimed by inserting a document with a unique `_id` (DESIGN §5).

FerretDB 1.24 runs `findAndModify` and conditional updates as a query followed by a
write of the whole document, outside one transaction: two replicas can both "win" a
`find_one_and_update` claim, and two concurrent updates of one document can lose one of
them. An insert with a unique `_id`, however, is atomic on every server. So every claim
in Carepath (a relay taking a document's outbox, a timer worker taking a timer, a writer
changing a document) is an insert into the `locks` collection; the loser gets E11000.

A lease is taken over when its holder is gone: at once when the holder's replica stopped
renewing its heartbeat (`liveness.py`, seconds after a `kill -9`), else once `expires_at`
passes (a holder with no heartbeat, or one that stalled past its lease). Taking over
deletes exactly that lease (matched by its token) before inserting anew. Every lease
query is a lone string `_id` equality, the only filter FerretDB serves from an index.

Known limit, on FerretDB only: that delete is itself a query then a delete by `_id`, so
two replicas taking over the same expired lease in the same instant could, in a window
of microseconds, both end up holding it. It needs a dead holder and an exact tie; on
MongoDB the delete is atomic and the window does not exist. A holder that stalls past its
own lease is the other classic gap; leases here last seconds while writes take
milliseconds, and timers re-check their lease before completing.

Writers in one process take turns per resource before they touch the shared lease
(`held`): the next in line starts the moment the previous one is done, instead of polling
the database with backoff while a sibling coroutine holds the lease. Only writers in
different replicas ever wait on the lease itself.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.storage.liveness import Liveness


def document_lock(collection: AsyncCollection[dict[str, Any]], document_id: Any) -> str:
    """The lease every writer of one document (services, relay, timers) takes first."""
    return f"{collection.name}/{document_id}"


class LockTimeout(Exception):
    """The resource stayed locked by another holder for longer than the caller would wait.

    Transient by nature: the consume pipeline retries it with backoff.
    """


@dataclass(slots=True)
class _Turn:
    """Writers of one resource in this process, queued first come, first served."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


@dataclass(frozen=True, slots=True)
class Lease:
    resource: str
    owner: str
    token: str
    expires_at: datetime


class Locks:
    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        *,
        liveness: Liveness | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._collection = collection
        self._liveness = liveness
        self._clock = clock
        self._turns: dict[str, _Turn] = {}

    async def try_acquire(self, resource: str, owner: str, ttl: timedelta) -> Lease | None:
        """Take the lease now, or return None if someone else holds a live one."""
        lease = await self._insert(resource, owner, ttl)
        if lease is not None:
            return lease
        current = await self._collection.find_one({"_id": resource})
        if current is None:
            return await self._insert(resource, owner, ttl)  # released meanwhile
        if current["expires_at"] > self._clock() and not await self._holder_is_dead(current):
            return None
        # The holder died or stalled past its lease: remove that very lease, then compete.
        await self._collection.delete_one({"_id": resource, "token": current["token"]})
        return await self._insert(resource, owner, ttl)

    async def acquire(
        self, resource: str, owner: str, ttl: timedelta, *, wait_seconds: float = 10.0
    ) -> Lease:
        """Take the lease, waiting (with backoff) up to `wait_seconds` for the holder."""
        deadline = time.monotonic() + wait_seconds
        delay = 0.005
        while (lease := await self.try_acquire(resource, owner, ttl)) is None:
            if time.monotonic() >= deadline:
                raise LockTimeout(f"{resource} is locked by another writer")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
        return lease

    async def is_held(self, lease: Lease) -> bool:
        """Whether `lease` is still the current one (not expired and taken over)."""
        current = await self._collection.find_one({"_id": lease.resource}, {"token": 1})
        return current is not None and current["token"] == lease.token

    async def release(self, lease: Lease) -> None:
        await self._collection.delete_one({"_id": lease.resource, "token": lease.token})

    @asynccontextmanager
    async def held(
        self, resource: str, owner: str, ttl: timedelta, *, wait_seconds: float = 10.0
    ) -> AsyncIterator[Lease]:
        """Hold the lease for the block: first this process's turn, then the shared lease,
        both within `wait_seconds`."""
        deadline = time.monotonic() + wait_seconds
        async with self._turn(resource, wait_seconds):
            remaining = max(0.0, deadline - time.monotonic())
            lease = await self.acquire(resource, owner, ttl, wait_seconds=remaining)
            try:
                yield lease
            finally:
                await self.release(lease)

    @asynccontextmanager
    async def _turn(self, resource: str, wait_seconds: float) -> AsyncIterator[None]:
        turn = self._turns.setdefault(resource, _Turn())
        turn.users += 1
        try:
            try:
                async with asyncio.timeout(wait_seconds):
                    await turn.lock.acquire()
            except TimeoutError:
                raise LockTimeout(f"{resource} is busy with other writers in this process") from None
            try:
                yield
            finally:
                turn.lock.release()
        finally:
            turn.users -= 1
            if not turn.users:
                del self._turns[resource]

    async def prune(self) -> int:
        """Delete leases that expired or whose holder is dead; return how many (housekeeping).

        Takeover removes such a lease lazily when someone wants the resource; this keeps
        the ones nobody asks for again from piling up.
        """
        removed = (await self._collection.delete_many({"expires_at": {"$lt": self._clock()}})).deleted_count
        if self._liveness is not None and (dead := await self._liveness.dead_owners()):
            removed += (await self._collection.delete_many({"owner": {"$in": dead}})).deleted_count
            await self._liveness.forget(dead)
        return removed

    async def _holder_is_dead(self, lease: dict[str, Any]) -> bool:
        return self._liveness is not None and await self._liveness.is_dead(lease["owner"])

    async def _insert(self, resource: str, owner: str, ttl: timedelta) -> Lease | None:
        lease = Lease(resource, owner, uuid.uuid4().hex, self._clock() + ttl)
        try:
            await self._collection.insert_one(
                {"_id": resource, "owner": owner, "token": lease.token, "expires_at": lease.expires_at}
            )
        except DuplicateKeyError:
            return None
        return lease
