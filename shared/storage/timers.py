"""Durable timers: stored in MongoDB, claimed with a lease, fired once in effect (DESIGN §4).

A timer is a document `{_id, kind, due_at, status, lease_until, owner, attempts, payload}`.
Any replica's worker claims a due timer with `find_one_and_update` (a lease, not a lock:
a worker that dies simply lets the lease run out), runs the handler for its kind, and
then, in ONE single-document write guarded by `owner` and `status`, marks it fired and
puts the events the handler returned into the timer's own outbox. The outbox relay
publishes them. Event ids are derived from the timer id and due time, so even a worker
that lost its lease mid-fire cannot make a second, different event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.background import Pacer
from shared.events.envelope import OutgoingEvent, deterministic_event_id
from shared.observability.logs import get_logger
from shared.observability.metrics import TIMER_FAILURES, TIMERS_FIRED
from shared.storage.outbox import ensure_outbox_index, outbox_update

log = get_logger(__name__)

PENDING = "pending"
FIRED = "fired"
CANCELLED = "cancelled"
FAILED = "failed"
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Timer:
    id: str
    kind: str
    due_at: datetime
    attempts: int
    payload: Mapping[str, Any] = field(default_factory=dict)

    def event_id(self, name: str = "") -> str:
        """The id of the event this firing produces: the same however often it fires."""
        return deterministic_event_id("timer", self.id, self.due_at.isoformat(), name)


TimerHandler = Callable[[Timer], Awaitable[Sequence[OutgoingEvent]]]
"""Does the timer's work (idempotently) and returns the events its firing publishes."""


class TimerStore:
    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("status", 1), ("due_at", 1)], name="due_timers")
        await ensure_outbox_index(self.collection)

    async def schedule(
        self, timer_id: str, kind: str, due_at: datetime, payload: Mapping[str, Any] | None = None
    ) -> bool:
        """Create a timer; False if one with this id exists already (scheduling is idempotent)."""
        try:
            await self.collection.insert_one(
                {
                    "_id": timer_id,
                    "kind": kind,
                    "due_at": due_at,
                    "status": PENDING,
                    "lease_until": _NEVER,
                    "owner": None,
                    "attempts": 0,
                    "payload": dict(payload or {}),
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def reschedule(self, timer_id: str, due_at: datetime) -> bool:
        result = await self.collection.update_one(
            {"_id": timer_id, "status": PENDING}, {"$set": {"due_at": due_at}}
        )
        return result.modified_count == 1

    async def cancel(self, timer_id: str) -> bool:
        result = await self.collection.update_one(
            {"_id": timer_id, "status": PENDING}, {"$set": {"status": CANCELLED}}
        )
        return result.modified_count == 1

    async def claim_due(self, owner: str, now: datetime, lease: timedelta) -> Timer | None:
        document = await self.collection.find_one_and_update(
            {"status": PENDING, "due_at": {"$lte": now}, "lease_until": {"$lte": now}},
            {"$set": {"lease_until": now + lease, "owner": owner}, "$inc": {"attempts": 1}},
            sort=[("due_at", 1)],
            return_document=ReturnDocument.AFTER,
        )
        if document is None:
            return None
        return Timer(
            id=document["_id"],
            kind=document["kind"],
            due_at=document["due_at"],
            attempts=document["attempts"],
            payload=document.get("payload") or {},
        )

    async def complete(
        self, timer: Timer, owner: str, events: Sequence[OutgoingEvent], now: datetime
    ) -> bool:
        """Mark fired and enqueue its events atomically; False if another worker took over."""
        result = await self.collection.update_one(
            {"_id": timer.id, "status": PENDING, "owner": owner},
            outbox_update(events, {"$set": {"status": FIRED, "fired_at": now}}),
        )
        return result.modified_count == 1

    async def give_up(self, timer: Timer, owner: str, reason: str) -> None:
        await self.collection.update_one(
            {"_id": timer.id, "status": PENDING, "owner": owner},
            {"$set": {"status": FAILED, "failure": reason[:500]}},
        )


class TimerWorker:
    """Claims and fires due timers; run one per replica, as many replicas as you like."""

    def __init__(
        self,
        store: TimerStore,
        handlers: Mapping[str, TimerHandler],
        *,
        owner: str,
        lease_seconds: float = 60.0,
        poll_interval_seconds: float = 1.0,
        max_attempts: int = 10,
        on_fired: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._handlers = dict(handlers)
        self._owner = owner
        self._lease = timedelta(seconds=lease_seconds)
        self._pacer = Pacer(poll_interval_seconds)
        self._max_attempts = max_attempts
        self._on_fired = on_fired
        self._clock = clock

    async def fire_due(self) -> int:
        """Fire every timer due now; return how many this worker fired."""
        fired = 0
        while (timer := await self._store.claim_due(self._owner, self._clock(), self._lease)) is not None:
            if await self._fire(timer):
                fired += 1
        return fired

    async def _fire(self, timer: Timer) -> bool:
        handler = self._handlers.get(timer.kind)
        if handler is None:
            await self._store.give_up(timer, self._owner, f"no handler for timer kind {timer.kind!r}")
            log.error("timer kind has no handler", timer_id=timer.id, kind=timer.kind)
            return False
        try:
            events = await handler(timer)
        except Exception as exc:
            TIMER_FAILURES.labels(timer.kind).inc()
            if timer.attempts >= self._max_attempts:
                await self._store.give_up(timer, self._owner, f"{type(exc).__name__}: {exc}")
                log.error("timer failed for good", timer_id=timer.id, kind=timer.kind, attempts=timer.attempts)
            else:
                log.warning("timer handler failed; retried after its lease", timer_id=timer.id, kind=timer.kind, exc_info=True)
            return False
        if not await self._store.complete(timer, self._owner, events, self._clock()):
            log.info("timer taken over by another worker", timer_id=timer.id)
            return False
        TIMERS_FIRED.labels(timer.kind).inc()
        log.info("timer fired", timer_id=timer.id, kind=timer.kind, events=len(events))
        if events:
            self._on_fired()
        return True

    def stop(self) -> None:
        """Finish the current pass and return from `run()`."""
        self._pacer.stop()

    async def run(self) -> None:
        while not self._pacer.stopped:
            try:
                await self.fire_due()
            except Exception:
                log.exception("timer pass failed; will retry")
            await self._pacer.pause()
