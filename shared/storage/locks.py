"""Leases claimed by inserting a document with a unique `_id` (DESIGN §5).

FerretDB 1.24 as shipped runs `findAndModify` and conditional updates as a query followed by
a write of the whole document, outside one transaction: two replicas can both "win" a
`find_one_and_update` claim, and two concurrent updates of one document can lose one of
them (the local launcher's build fixes that: deploy/local/ferretdb/write-atomicity.patch).
An insert with a unique `_id`, however, is atomic on every server. So every claim in
Carepath (a relay taking a document's outbox, a timer worker taking a timer, a writer
changing a document) is an insert into the `locks` collection; the loser gets E11000.

A lease is taken over when its holder is gone: at once when the holder's replica stopped
renewing its heartbeat (`liveness.py`, seconds after a `kill -9`), else once `expires_at`
passes (a holder with no heartbeat, or one that stalled past its lease). Taking over
deletes exactly that lease (matched by its token) before inserting anew. Every lease
query holds a string `_id` equality, which the `_id` index serves.

A takeover's delete and every release match the lease's token as well as its `_id`, so
neither ever removes a lease someone else took meanwhile: on MongoDB, and on the launcher's
FerretDB build, that delete is atomic and served by the `_id` index (as shipped, FerretDB ran
it as a query, then a delete by `_id`, and read the whole collection for it). A holder that
stalls past its own lease is the classic gap; leases here last seconds while writes take
milliseconds, and timers re-check their lease before completing.

Writers in one process take turns per resource before they touch the shared lease
(`held`): the next in line starts the moment the previous one is done, instead of polling
the database with backoff while a sibling coroutine holds the lease. Only writers in
different replicas ever wait on the lease itself.

Leases that stay a moment: a lease taken through `held` is not given back the instant its
holder is done. The process keeps it for `linger_seconds` (the services' runtime sets it;
0, the default for tools, gives it back at once) and hands it, with whatever the
holder left for the next one (`Held.hand_on`: a `DocumentStore` leaves the document it just
wrote, so the next writer need not read it again), to the next writer of the same resource
in this process. So a burst of writes to one document costs one lease insert and one
release, not one each. A process hands a lease on for at most `hand_on_seconds`; then it
gives it back, stands aside one idle window and competes again, so writers in other
replicas get their turn. A holder that fails gives the lease back at once. Whatever a
holder did not hand on is forgotten: the next one reads afresh. Idle leases go back on
ticks (`RELEASE_TICK_SECONDS`), all those of one tick in one round trip, and several
leases wanted at once are taken in one (`held_together`); leases wanted while another insert
of this process is in flight go together in the next (`Coalesced`).

A give-back that fails (the database unreachable for a moment) leaves the lease until it
expires, its owner alive; this process remembers it and its next writer of that resource
takes it over at once, instead of waiting out the expiry (a replica not ready for half a
minute after a database restart).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import DeleteOne
from pymongo.asynchronous.collection import AsyncCollection

from shared.observability.logs import get_logger
from shared.storage.bulk import Coalesced, insert_new
from shared.storage.liveness import Liveness

log = get_logger(__name__)


def document_lock(collection: AsyncCollection[dict[str, Any]], document_id: Any) -> str:
    """The lease every writer of one document (services, relay, timers) takes first."""
    return f"{collection.name}/{document_id}"


class LockTimeout(Exception):
    """The resource stayed locked by another holder for longer than the caller would wait.

    Transient by nature: the consume pipeline retries it with backoff. `here`: the wait was
    for other writers in this process (their turns), not for a lease held elsewhere.
    """

    def __init__(self, resource: str, *, here: bool = False) -> None:
        self.resource, self.here = resource, here
        super().__init__(
            f"{resource} is busy with other writers in this process"
            if here
            else f"{resource} is locked by another writer"
        )


def remaining_after(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


RELEASE_TICK_SECONDS = 0.05
"""Idle leases go back on ticks this far apart, those of one tick in one round trip."""

RELEASE_MARGIN = timedelta(seconds=2)
"""How far from its expiry a lease must be to be handed on to the next writer here: far more
than one round trip, and than replicas' clocks disagree."""

HEARTBEAT_MARGIN = timedelta(seconds=0.5)
"""How long this replica's heartbeat must still hold for that: peers find a replica dead only
once its last heartbeat's `alive_until` has passed (about 3 s after it, renewed every second),
and a write takes milliseconds; a margin near the renewal interval itself would stop handing
leases on whenever a loaded machine delays one renewal."""


@dataclass(frozen=True, slots=True)
class Lease:
    resource: str
    owner: str
    token: str
    expires_at: datetime
    taken_at: float = 0.0  # time.monotonic() when it was inserted


@dataclass(slots=True)
class Held:
    """A lease held through `Locks.held`, and what the previous holder in this process left.

    `handed` is None when the lease is new (or the previous holder left nothing): read afresh.
    """

    lease: Lease
    handed: Any = None
    _next: Any = None

    def hand_on(self, payload: Any) -> None:
        """Leave `payload` (the state this holder wrote) for the next holder in this process."""
        self._next = payload


@dataclass(slots=True)
class _Turn:
    """Writers of one resource in this process, queued first come, first served, and the
    lease they pass along (with what its last holder left) while it lingers."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    lease: Lease | None = None
    payload: Any = None
    lingering: asyncio.TimerHandle | None = None
    pinned: bool = False  # a new document's lease, kept until `let_go` (`hold_new`)


class Locks:
    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        *,
        liveness: Liveness | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        linger_seconds: float = 0.0,
        hand_on_seconds: float = 1.0,
        release_tick_seconds: float = RELEASE_TICK_SECONDS,
    ) -> None:
        self._collection = collection
        self._liveness = liveness
        self._clock = clock
        self._linger_seconds = linger_seconds
        self._hand_on_seconds = hand_on_seconds
        self._tick = release_tick_seconds
        self._turns: dict[str, _Turn] = {}
        self._releasing: set[asyncio.Task[None]] = set()
        self._to_release: dict[str, Lease] = {}  # given back at this tick, not sent yet
        self._in_flight: dict[str, asyncio.Task[None]] = {}  # sent, not yet answered
        self._inserts = Coalesced(self._insert_leases)  # leases wanted meanwhile go together
        # Leases this process gave up but could not delete (the database was unreachable):
        # resource -> token. Its next writer here takes such a lease over at once, instead of
        # waiting out its expiry behind a holder whose heartbeat (this replica's) says alive.
        self._abandoned: dict[str, str] = {}

    async def try_acquire(self, resource: str, owner: str, ttl: timedelta) -> Lease | None:
        """Take the lease now, or return None if someone else holds a live one."""
        lease = await self._insert(resource, owner, ttl)
        if lease is not None:
            return lease
        current = await self._collection.find_one({"_id": resource})
        if current is None:
            return await self._insert(resource, owner, ttl)  # released meanwhile
        abandoned = self._abandoned.pop(resource, None) == current["token"]
        if (
            not abandoned
            and current["expires_at"] > self._clock()
            and not await self._holder_is_dead(current)
        ):
            return None
        # The holder died or stalled past its lease, or it is one this process could not give
        # back: remove that very lease, then compete.
        await self._collection.delete_one({"_id": resource, "token": current["token"]})
        return await self._insert(resource, owner, ttl)

    async def acquire(
        self, resource: str, owner: str, ttl: timedelta, *, wait_seconds: float = 10.0
    ) -> Lease:
        """Take the lease, waiting (with backoff) up to `wait_seconds` for the holder."""
        return (await self._acquire(None, resource, owner, ttl, time.monotonic() + wait_seconds)).lease

    async def is_held(self, lease: Lease) -> bool:
        """Whether `lease` is still the current one (not expired and taken over)."""
        current = await self._collection.find_one({"_id": lease.resource}, {"token": 1})
        return current is not None and current["token"] == lease.token

    async def release(self, lease: Lease) -> None:
        """Give the lease back, if it is still this one (not taken over meanwhile)."""
        await self._collection.delete_one({"_id": lease.resource, "token": lease.token})

    def _surely_still_held(self, lease: Lease) -> bool:
        now = self._clock()
        if lease.expires_at <= now + RELEASE_MARGIN:
            return False
        return self._liveness is None or self._liveness.vouches(lease.owner, now + HEARTBEAT_MARGIN)

    @asynccontextmanager
    async def held(
        self, resource: str, owner: str, ttl: timedelta, *, wait_seconds: float = 10.0
    ) -> AsyncIterator[Held]:
        """Hold the lease for the block: first this process's turn, then the shared lease
        (or the one the previous holder in this process left lingering), both within
        `wait_seconds`."""
        deadline = time.monotonic() + wait_seconds
        async with self._turn(resource, wait_seconds) as turn:
            held = await self._take_turns_lease(turn, resource, owner, ttl, deadline)
            try:
                yield held
            except BaseException:
                turn.lease, turn.payload = None, None
                await self._release_all_quietly([held.lease])  # a failed holder gives it back at once
                raise
            if turn.users > 1 or self._linger_seconds > 0 or turn.pinned:
                turn.lease, turn.payload = held.lease, held._next  # for the next writer here
            else:
                await self.release(held.lease)  # nobody waits and nothing lingers: back now

    @asynccontextmanager
    async def held_together(
        self, resources: Sequence[str], owner: str, ttl: timedelta, *, wait_seconds: float = 10.0
    ) -> AsyncIterator[dict[str, Held]]:
        """Hold what leases of `resources` can be had now for the block: those this process does
        not hold yet taken in one round trip, then lingering or given back as `held`'s are.

        Yields the leases held, by resource. One another holder has is left out, not waited
        for, and so is one this process has handed on for long enough (given back, for other
        replicas' turn): the caller writes those after the block, on its own (`held`), so
        nobody ever holds some leases while waiting for others (two replicas cannot wait on
        each other). Writers
        of this process are waited for in turn, in the resources' sorted order (two blocks
        here never wait on each other either).
        """
        deadline = time.monotonic() + wait_seconds
        ordered = sorted(set(resources))
        async with AsyncExitStack() as stack:
            turns = {
                r: await stack.enter_async_context(self._turn(r, remaining_after(deadline))) for r in ordered
            }
            helds = await self._take_together(turns, owner, ttl, deadline)
            try:
                yield helds
            except BaseException:
                for resource in helds:
                    turns[resource].lease, turns[resource].payload = None, None
                await self._release_all_quietly([held.lease for held in helds.values()])
                raise
            back: list[Lease] = []
            for resource, held in helds.items():
                turn = turns[resource]
                if turn.users > 1 or self._linger_seconds > 0 or turn.pinned:
                    turn.lease, turn.payload = held.lease, held._next
                else:
                    back.append(held.lease)
            await self._release_all(back)

    async def _take_together(
        self, turns: dict[str, _Turn], owner: str, ttl: timedelta, deadline: float
    ) -> dict[str, Held]:
        await self._releases_done(list(turns), deadline)
        helds: dict[str, Held] = {}
        new: list[Lease] = []
        handed_on_enough: list[Lease] = []
        for resource, turn in turns.items():
            lease, payload = turn.lease, turn.payload
            turn.lease, turn.payload = None, None
            if lease is None:
                lease = self._to_release.pop(resource, None)  # given back a moment ago, not sent yet
            if lease is None:
                new.append(Lease(resource, owner, uuid.uuid4().hex, self._clock() + ttl, time.monotonic()))
            elif self._reusable(turn, lease, owner, ttl):
                helds[resource] = Held(lease, payload)
            else:
                # Given back, and left out: written on its own after the block, standing aside
                # then, never while these leases are held.
                handed_on_enough.append(lease)
        await self._release_all(handed_on_enough)
        refused = await insert_new(self._collection, [_stored(lease) for lease in new]) if new else set()
        return {**helds, **{lease.resource: Held(lease) for n, lease in enumerate(new) if n not in refused}}

    async def _releases_done(self, resources: Sequence[str], deadline: float) -> None:
        """Wait for this process's releases of `resources` in flight (not for another holder):
        inserting meanwhile would only be refused, and poll."""
        pending = {task for r in resources if (task := self._in_flight.get(r)) is not None}
        if pending:
            await asyncio.wait(pending, timeout=remaining_after(deadline))

    async def _release_all(self, leases: Sequence[Lease]) -> None:
        """`release` of several leases, in one round trip."""
        if len(leases) == 1:
            await self.release(leases[0])
        elif leases:
            await self._collection.bulk_write(
                [DeleteOne({"_id": lease.resource, "token": lease.token}) for lease in leases]
            )

    async def _release_all_quietly(self, leases: Sequence[Lease]) -> None:
        try:
            await self._release_all(leases)
        except Exception:  # they expire; a writer here takes them over at once (`_abandoned`)
            log.warning("leases could not be given back; they will expire", exc_info=True)
            if len(self._abandoned) > 10_000:
                self._abandoned.clear()  # they expire all the same
            self._abandoned.update((lease.resource, lease.token) for lease in leases)

    @property
    def lingers(self) -> bool:
        """Whether idle leases stay a moment for the next writer here (`linger_seconds` > 0)."""
        return self._linger_seconds > 0

    def lingering(self, resource: str) -> Any:
        """What the last holder left with a lease this process still keeps and nobody is using
        (None: no such lease). While the lease is here, nobody else can have changed that."""
        turn = self._turns.get(resource)
        if turn is None or turn.lease is None or turn.users or turn.lock.locked():
            return None
        return turn.payload

    async def try_held(self, resource: str, owner: str, ttl: timedelta) -> Held | None:
        """The lease now, without waiting: None if a writer of this process or another
        holder has it. The caller gives `Held.lease` back with `release` (the relay's way in)."""
        turn = self._turns.get(resource)
        if turn is not None and (turn.users or turn.lock.locked() or turn.pinned):
            # A writer of this process has it or is next, or a block holds it (`hold_new`):
            # the writes of that block publish their own events.
            return None
        if turn is not None and turn.lease is not None:
            self._cancel_linger(turn)
            lease, payload = turn.lease, turn.payload
            del self._turns[resource]  # the relay takes over this lingering lease
            return Held(lease, payload)
        if (queued := self._to_release.pop(resource, None)) is not None:
            return Held(queued)
        taken = await self.try_acquire(resource, owner, ttl)
        return None if taken is None else Held(taken)

    async def hold_new(self, resources: Sequence[str], owner: str, ttl: timedelta) -> list[str]:
        """Take the leases of documents about to be created, all in one round trip, and keep
        them in this process until `let_go`: writes of those documents in between
        (`held`) use them without a round trip of their own. Returns the resources whose
        lease was taken (one held elsewhere is left to the writers' usual way).
        """
        if not resources:
            return []
        leases = [Lease(r, owner, uuid.uuid4().hex, self._clock() + ttl, time.monotonic()) for r in resources]
        refused = await insert_new(self._collection, [_stored(lease) for lease in leases])
        taken = []
        for n, lease in enumerate(leases):
            if n in refused:
                continue
            turn = self._turns.setdefault(lease.resource, _Turn())
            turn.lease, turn.payload, turn.pinned = lease, None, True
            taken.append(lease.resource)
        return taken

    def hand_on_new(self, resource: str, payload: Any) -> None:
        """Leave `payload` (the document as just inserted) with a lease taken by `hold_new`."""
        turn = self._turns.get(resource)
        if turn is not None and turn.pinned and turn.lease is not None and not turn.users:
            turn.payload = payload

    async def let_go(self, resources: Sequence[str]) -> None:
        """Give back the leases `hold_new` took: those idle now in one round trip (or, when leases
        linger here, lingering: the next writer here takes them on, else they go back with
        their tick's others), the others by their last writer as usual."""
        idle: list[Lease] = []
        for resource in resources:
            turn = self._turns.get(resource)
            if turn is None or not turn.pinned:
                continue
            turn.pinned = False
            if turn.users:
                continue  # a writer has it now: it lingers and goes back as usual after that writer
            if turn.lease is not None and self._linger_seconds > 0:
                self._linger(resource, turn)
                continue
            if turn.lease is not None:
                idle.append(turn.lease)
            self._cancel_linger(turn)
            del self._turns[resource]
        await self._release_all(idle)

    async def release_lingering(self) -> None:
        """Give back every lease kept lingering, and wait for releases in flight (on stop)."""
        idle: list[Lease] = []
        for resource, turn in list(self._turns.items()):
            if turn.users == 0 and turn.lease is not None:
                self._cancel_linger(turn)
                del self._turns[resource]
                idle.append(turn.lease)
        await self._release_all(idle)
        if self._to_release:
            self._flush()
        if self._releasing:
            await asyncio.gather(*self._releasing, return_exceptions=True)

    async def _take_turns_lease(
        self, turn: _Turn, resource: str, owner: str, ttl: timedelta, deadline: float
    ) -> Held:
        lease, payload = turn.lease, turn.payload
        turn.lease, turn.payload = None, None
        if lease is None:
            lease = self._to_release.pop(resource, None)  # given back a moment ago, not sent yet
        if lease is not None:
            if self._reusable(turn, lease, owner, ttl):
                return Held(lease, payload)
            # Handed on long enough: give it back and stand aside one idle window, longer
            # than other replicas' polls (`acquire`), so a writer there gets its turn.
            await self.release(lease)
            await asyncio.sleep(min(self._linger_seconds, remaining_after(deadline)))
        await self._releases_done([resource], deadline)
        return await self._acquire(turn, resource, owner, ttl, deadline)

    async def _acquire(
        self, turn: _Turn | None, resource: str, owner: str, ttl: timedelta, deadline: float
    ) -> Held:
        """The lease, polled for with backoff until `deadline`; for the writer whose `turn` it
        is, also the lease `hold_new` took for this process meanwhile. That insert can land
        between this writer's turn and its own, and waiting then would be waiting on this very
        process (until the deadline, while the block holding it waits for this writer's turn)."""
        delay = 0.005
        while True:
            if turn is not None and turn.pinned and turn.lease is not None:
                pinned = Held(turn.lease, turn.payload)
                turn.lease, turn.payload = None, None
                return pinned
            if (taken := await self.try_acquire(resource, owner, ttl)) is not None:
                return Held(taken)
            if time.monotonic() >= deadline:
                raise LockTimeout(resource)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _reusable(self, turn: _Turn, lease: Lease, owner: str, ttl: timedelta) -> bool:
        """Whether a lease this process keeps may go to the next writer here: one of a document
        it just created (`hold_new`), or one not yet handed on for `hand_on_seconds`."""
        if lease.owner != owner:
            return False
        if turn.pinned:
            return self._surely_still_held(lease)
        return self._still_fresh(lease, ttl)

    def _still_fresh(self, lease: Lease, ttl: timedelta) -> bool:
        """Whether a lingering lease may be handed on once more."""
        held_for = time.monotonic() - lease.taken_at
        return held_for < self._hand_on_seconds and self._surely_still_held(lease)

    @asynccontextmanager
    async def _turn(self, resource: str, wait_seconds: float) -> AsyncIterator[_Turn]:
        turn = self._turns.setdefault(resource, _Turn())
        self._cancel_linger(turn)
        turn.users += 1
        try:
            try:
                async with asyncio.timeout(wait_seconds):
                    await turn.lock.acquire()
            except TimeoutError:
                raise LockTimeout(resource, here=True) from None
            try:
                yield turn
            finally:
                turn.lock.release()
        finally:
            turn.users -= 1
            if not turn.users:
                if turn.lease is None:
                    del self._turns[resource]
                else:
                    self._linger(resource, turn)

    def _linger(self, resource: str, turn: _Turn) -> None:
        """Keep the idle lease `linger_seconds` for the next writer, then give it back."""
        if turn.pinned:
            return  # `let_go` gives it back
        if self._linger_seconds <= 0:
            self._give_back(resource, turn)
            return
        loop = asyncio.get_running_loop()
        # On the next tick after the window: leases idle by then go back together (`_flush`).
        when = math.ceil((loop.time() + self._linger_seconds) / self._tick) * self._tick
        turn.lingering = loop.call_at(when, self._give_back, resource, turn)

    def _give_back(self, resource: str, turn: _Turn) -> None:
        if self._turns.get(resource) is not turn or turn.users or turn.lease is None:
            return
        del self._turns[resource]
        if not self._to_release:
            asyncio.get_running_loop().call_soon(self._flush)  # after every give-back of this tick
        self._to_release[resource] = turn.lease

    def _flush(self) -> None:
        """Give back the leases of one tick in one round trip."""
        leases, self._to_release = list(self._to_release.values()), {}
        if not leases:
            return
        task = asyncio.get_running_loop().create_task(self._release_all_quietly(leases))
        self._releasing.add(task)
        for lease in leases:
            self._in_flight[lease.resource] = task

        def done(finished: asyncio.Task[None]) -> None:
            self._releasing.discard(finished)
            for lease in leases:
                if self._in_flight.get(lease.resource) is finished:
                    del self._in_flight[lease.resource]

        task.add_done_callback(done)

    @staticmethod
    def _cancel_linger(turn: _Turn) -> None:
        if turn.lingering is not None:
            turn.lingering.cancel()
            turn.lingering = None

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
        """Take the lease if nobody has it (None if someone does): inserted alone when no other
        insert of this process is in flight, else with the others wanted meanwhile."""
        lease = Lease(resource, owner, uuid.uuid4().hex, self._clock() + ttl, time.monotonic())
        return await self._inserts(lease)

    async def _insert_leases(self, leases: Sequence[Lease]) -> list[Lease | None]:
        """Each lease inserted, one or many, in one round trip; None for those someone holds."""
        refused = await insert_new(self._collection, [_stored(lease) for lease in leases])
        return [None if n in refused else lease for n, lease in enumerate(leases)]


def _stored(lease: Lease) -> dict[str, Any]:
    return {"_id": lease.resource, "owner": lease.owner, "token": lease.token, "expires_at": lease.expires_at}
