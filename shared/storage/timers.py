"""Durable timers: stored in MongoDB, claimed with a lease, fired once in effect (DESIGN §4).

A pending timer is a document `{_id, kind, due_at, status, attempts, payload}` in the
service's `timers` collection, and only pending timers live there: a timer that fired, was
cancelled or failed for good moves to the companion `timers_done` collection (inserted
there first, then deleted from `timers` by `_id`). So what the due-sweep reads grows with
pending work, not with history (DESIGN §5: on FerretDB every query but a lone `_id`
equality reads the whole collection). `timers_done` keeps a finished timer for
`done_retention` (housekeeping prunes it later, off the hot path): while it is there its
id cannot be scheduled again, which keeps `schedule` idempotent by timer id.

A worker on any replica claims a due timer by taking the timer document's lease (an insert
with a unique `_id`, see `locks.py`; the same lease `reschedule`/`cancel` take) and reading
it while counting the attempt, runs the handler for its kind, and then moves it: its
`timers_done` copy carries the handler's events in its own outbox, so the move is what
commits the firing. That insert is unique by timer id, so a timer commits once however
many workers fire it (a worker that stalled past its lease does not try). A worker that
dies simply lets its lease run out; the next one fires the timer with the same event ids,
derived from the timer id and due time. A worker that dies between the two writes of the
move leaves a pending copy of a done timer: that copy counts an earlier attempt, and a
claim of a timer with an earlier attempt looks in `timers_done` first and finishes the
move instead of firing again.

Round trips of one firing (the handler's own writes excluded): the lease, the read that
counts the attempt, the insert into `timers_done`, the delete from `timers`, the lease's
release: 5 for a lone firing (it was 6: a read and a counting write, a lease check, and a
marking write). Moves that finish while another is being written go together, one
`insert_many` and one `bulk_write` of deletes by `_id` per group, so a burst costs about 3
per firing. `schedule` looks in `timers_done` by `_id` before its insert: 2 (it was 1), or 1
when its caller has just created the timer's subject (`first_time`); `schedule_many` inserts
several timers in one round trip.

A worker fires up to `concurrency` due timers at once: each is a different document
under its own lease, and a handler that waits on a provider (an SMTP server, a webhook)
must not hold back every other reminder and delivery due at the same moment.

Finding due timers must not scan the collection every second. So a store remembers, in
memory, the pending timers due within its `lookahead` that this replica scheduled or
moved, and the worker fires from that memory. A sweep (the one query by status and due
time; served by the `due_timers` index on MongoDB) runs at start, when the runtime sees
another replica's heartbeat end (`sweep_soon`), and every `sweep_interval_seconds`, and
remembers what is due within the lookahead: a timer that only a replica now gone
remembered fires seconds after that replica's heartbeat ends.

The same memory answers how late the timers are (`carepath_timer_lag_seconds`, set after
every pass): the oldest due time among the remembered timers that are due. A timer whose
handler failed is remembered for its retry, but still counts from its original due time,
so a timer that keeps failing shows as ever later rather than as on time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pymongo import DeleteOne
from pymongo.asynchronous.collection import AsyncCollection

from shared.background import Pacer, SweepSchedule
from shared.clock import domain_span, speed_of
from shared.events.envelope import Envelope, OutgoingEvent, deterministic_event_id
from shared.events.records import describe_error
from shared.observability.logs import get_logger
from shared.observability.metrics import TIMER_FAILURES, TIMER_LAG_SECONDS, TIMERS_FIRED
from shared.observability.tracing import continued, note_correlation, trace_headers
from shared.storage import Document
from shared.storage.bulk import insert_new
from shared.storage.locks import Lease, Locks, document_lock
from shared.storage.outbox import OUTBOX, OUTBOX_PENDING, ensure_outbox_index, with_outbox

log = get_logger(__name__)

DUE_BATCH = 100
MOVE_BATCH = 500
DONE_SUFFIX = "_done"
WRITE_LEASE = timedelta(seconds=30)  # `reschedule` and `cancel`: a few writes by `_id`


class TimerStatus(StrEnum):
    """Where a timer is in its life; only a `pending` timer can fire, move or be cancelled."""

    pending = "pending"
    fired = "fired"
    cancelled = "cancelled"
    failed = "failed"


@dataclass(frozen=True, slots=True)
class Timer:
    id: str
    kind: str
    due_at: datetime
    attempts: int
    payload: Mapping[str, Any] = field(default_factory=dict)
    trace: Mapping[str, str] = field(default_factory=dict)
    """The W3C context of what scheduled it (empty when nothing was traced): its firing continues it."""

    def event_id(self, name: str = "") -> str:
        """The id of the event this firing produces: the same however often it fires."""
        return deterministic_event_id("timer", self.id, self.due_at.isoformat(), name)

    def as_cause(self, name: str, *, service: str, subject: str, correlation_id: str | None) -> Envelope:
        """This firing as the cause of the writes it makes (`cause=`): same id however often it fires,
        so a re-fire after a crash changes nothing twice."""
        event_id = self.event_id(name)
        return Envelope(
            id=event_id,
            source=f"/carepath/{service}",
            type=f"carepath.{service}.timer.{name}",
            time=self.due_at,
            subject=subject,
            correlation_id=correlation_id or event_id,
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """A timer and the lease under which one worker may fire it."""

    timer: Timer
    lease: Lease


@dataclass(frozen=True, slots=True)
class Planned:
    """A timer to schedule (`TimerStore.schedule_many`)."""

    timer_id: str
    kind: str
    due_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)


TimerHandler = Callable[[Timer], Awaitable[Sequence[OutgoingEvent]]]
"""Does the timer's work (idempotently) and returns the events its firing publishes."""


class TimerStore:
    """Timers of one service; `owner` names this replica in the leases it takes.

    Remembers the pending timers due within `lookahead` of `clock()` that it scheduled,
    moved or swept (see the module docstring); memory stays bounded by that window.
    Finished timers go to `done` (by default the collection's `<name>_done` companion).
    """

    def __init__(
        self,
        collection: AsyncCollection[Document],
        locks: Locks,
        *,
        done: AsyncCollection[Document] | None = None,
        owner: str = "timers",
        lookahead: timedelta = timedelta(minutes=1),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.collection = collection
        self._done = done
        self._locks = locks
        self._owner = owner
        self.lookahead = lookahead
        self._clock = clock
        self._upcoming: dict[str, datetime] = {}
        self._overdue_since: dict[str, datetime] = {}  # retried timers: their original due time
        self._moves: list[_Move] = []  # waiting for the group being written (`_move_to_done`)
        self._moving = False

    @property
    def done(self) -> AsyncCollection[Document]:
        """Where fired, cancelled and failed timers go: read only by `_id` on the hot path."""
        if self._done is None:
            self._done = self.collection.database[f"{self.collection.name}{DONE_SUFFIX}"]
        return self._done

    async def ensure_indexes(self) -> None:
        """The indexes MongoDB serves the due-sweep and the prune from (FerretDB scans the
        pending timers only); then move out what an earlier version left finished in place."""
        await asyncio.gather(
            self.collection.create_index([("status", 1), ("due_at", 1)], name="due_timers"),
            self.done.create_index([("done_at", 1)], name="done_timers"),
            ensure_outbox_index(self.done),
        )
        if moved := await self._move_out_finished():
            log.info("finished timers moved out of the pending ones", count=moved)

    async def schedule(
        self,
        timer_id: str,
        kind: str,
        due_at: datetime,
        payload: Mapping[str, Any] | None = None,
        *,
        first_time: bool = False,
    ) -> bool:
        """Create a timer; False if one with this id exists already, pending or done
        (scheduling is idempotent). `first_time`: see `schedule_many`."""
        planned = Planned(timer_id, kind, due_at, dict(payload or {}))
        return bool(await self.schedule_many([planned], first_time=first_time))

    async def schedule_many(self, planned: Sequence[Planned], *, first_time: bool = False) -> set[str]:
        """Create several timers in one insert; return the ids created (not those that exist,
        pending or done).

        `first_time`: the caller has just created what these timers belong to (their ids derive
        from it), so none of them can have fired yet: the look in `timers_done` is skipped, one
        round trip per timer fewer. A redelivered cause finds its subject existing and looks.
        """
        if not first_time:
            done = await asyncio.gather(
                *(self.done.find_one({"_id": p.timer_id}, {"_id": 1}) for p in planned)
            )
            planned = [p for p, finished in zip(planned, done, strict=True) if finished is None]
        trace = trace_headers()  # the journey the firings belong to
        refused = await insert_new(
            self.collection,
            [
                {
                    "_id": p.timer_id,
                    "kind": p.kind,
                    "due_at": p.due_at,
                    "status": TimerStatus.pending,
                    "attempts": 0,
                    "payload": dict(p.payload),
                    "trace": trace,
                }
                for p in planned
            ],
        )
        created = {p.timer_id for n, p in enumerate(planned) if n not in refused}
        for p in planned:
            if p.timer_id in created:
                self.remember(p.timer_id, p.due_at)
        return created

    async def reschedule(self, timer_id: str, due_at: datetime, *, owner: str | None = None) -> bool:
        """Move a pending timer; False if it already fired, was cancelled or does not exist."""
        async with self._locks.held(self._lock(timer_id), owner or self._owner, WRITE_LEASE):
            if await self._pending(timer_id) is None:
                return False
            await self.collection.update_one({"_id": timer_id}, {"$set": {"due_at": due_at, "attempts": 0}})
        self.remember(timer_id, due_at)
        return True

    async def cancel(self, timer_id: str, *, owner: str | None = None) -> bool:
        """Cancel a pending timer; False if it already fired, was cancelled or does not exist."""
        self.forget(timer_id)
        async with self._locks.held(self._lock(timer_id), owner or self._owner, WRITE_LEASE):
            if (current := await self._pending(timer_id)) is None:
                return False
            return await self._move_to_done(current, TimerStatus.cancelled)

    def remember(self, timer_id: str, due_at: datetime, *, overdue_since: datetime | None = None) -> None:
        """Fire this timer from memory when due (only if due within the lookahead).

        `overdue_since`: a retry's original due time, from which the timer counts as late.
        """
        if due_at <= self._clock() + self.lookahead:
            self._upcoming[timer_id] = due_at
            if overdue_since is not None:
                self._overdue_since[timer_id] = overdue_since
            else:
                self._overdue_since.pop(timer_id, None)
        else:
            self.forget(timer_id)  # a later sweep brings it back in time

    def forget(self, timer_id: str) -> None:
        self._upcoming.pop(timer_id, None)
        self._overdue_since.pop(timer_id, None)

    def lateness(self, now: datetime) -> timedelta:
        """How late the oldest remembered timer that is due is (zero when none is due).

        A retried timer counts from its original due time, though it waits for its retry.
        """
        due = [self._overdue_since.get(i, at) for i, at in self._upcoming.items()]
        oldest = min((at for at in due if at <= now), default=now)
        return now - oldest

    def remembered_due(self, now: datetime, limit: int = DUE_BATCH) -> list[str]:
        """Ids of remembered timers due by `now`, earliest first: no database round trip."""
        due = sorted((at, i) for i, at in self._upcoming.items() if at <= now)
        return [i for _, i in due[:limit]]

    async def sweep(self, now: datetime) -> int:
        """Remember every pending timer due within the lookahead (the one query that scans,
        and only the pending timers)."""
        cursor = self.collection.find(
            {"status": TimerStatus.pending, "due_at": {"$lte": now + self.lookahead}}, {"due_at": 1}
        )
        found = 0
        async for document in cursor:
            self._upcoming[document["_id"]] = document["due_at"]
            found += 1
        return found

    async def due_ids(self, now: datetime, limit: int = 100) -> list[str]:
        """Ids of pending timers due by `now`, earliest first, from the database."""
        cursor = (
            self.collection.find({"status": TimerStatus.pending, "due_at": {"$lte": now}}, {"_id": 1})
            .sort("due_at", 1)
            .limit(limit)
        )
        return [document["_id"] async for document in cursor]

    async def claim(self, timer_id: str, owner: str, now: datetime, lease: timedelta) -> Claim | None:
        """Lease one due timer and count the attempt; None if it is held by another worker,
        not due, or done."""
        held = await self._locks.try_acquire(self._lock(timer_id), owner, lease)
        if held is None:
            return None
        # One round trip reads the timer and counts this attempt (we hold its lease).
        document = await self.collection.find_one_and_update({"_id": timer_id}, {"$inc": {"attempts": 1}})
        if document is not None and document["attempts"] > 0 and await self._finish_move_if_done(timer_id):
            document = None  # an earlier worker moved it to done and died before the delete
        if document is None or document["status"] != TimerStatus.pending:
            self.forget(timer_id)  # fired, cancelled or gone meanwhile
            await self._locks.release(held)
            return None
        if document["due_at"] > now:
            # Moved later by another writer: not an attempt (a rare path; undo the count).
            await self.collection.update_one({"_id": timer_id}, {"$inc": {"attempts": -1}})
            self.remember(timer_id, document["due_at"])
            await self._locks.release(held)
            return None
        timer = Timer(
            id=timer_id,
            kind=document["kind"],
            due_at=document["due_at"],
            attempts=document["attempts"] + 1,
            payload=document.get("payload") or {},
            trace=document.get("trace") or {},
        )
        return Claim(timer, held)

    async def claim_due(self, owner: str, now: datetime, lease: timedelta) -> Claim | None:
        """Claim the earliest due timer nobody holds."""
        for timer_id in await self.due_ids(now):
            if (claim := await self.claim(timer_id, owner, now, lease)) is not None:
                return claim
        return None

    # Writes below filter on the lone `_id` (FerretDB scans for anything more): the timer
    # was pending when its lease was taken, and every writer of a timer holds that lease.

    async def complete(self, claim: Claim, events: Sequence[OutgoingEvent], now: datetime) -> bool:
        """Move the fired timer, its events in its outbox, to done; False if its lease ran out
        or another worker's firing was stored first."""
        self.forget(claim.timer.id)
        if _ran_out(claim.lease):
            await self._locks.release(claim.lease)  # if nobody took it over yet
            return False  # a worker that stalled past its lease: the next claim fires it
        if events:
            note_correlation(events[0].envelope.correlation_id)  # a firing that began a new trace
        moved = await self._move_to_done(
            _stored(claim.timer), TimerStatus.fired, {"fired_at": now}, events=events
        )
        await self._locks.release(claim.lease)
        return moved

    async def give_up(self, claim: Claim, reason: str) -> None:
        self.forget(claim.timer.id)
        if not _ran_out(claim.lease):
            await self._move_to_done(_stored(claim.timer), TimerStatus.failed, {"failure": reason[:500]})
        await self._locks.release(claim.lease)

    async def prune(self, before: datetime) -> int:
        """Delete done timers moved before `before` whose events are all published; return how
        many (housekeeping: one range delete, off the hot path). Their ids may be scheduled anew."""
        result = await self.done.delete_many({"done_at": {"$lt": before}, OUTBOX_PENDING: 0})
        return result.deleted_count

    def _lock(self, timer_id: str) -> str:
        return document_lock(self.collection, timer_id)

    async def _pending(self, timer_id: str) -> Document | None:
        """The pending timer (under its lease), or None if it is not pending any more."""
        document = await self.collection.find_one({"_id": timer_id})
        if document is not None and document["attempts"] > 0 and await self._finish_move_if_done(timer_id):
            return None
        if document is None or document["status"] != TimerStatus.pending:
            return None
        return document

    async def _finish_move_if_done(self, timer_id: str) -> bool:
        """Whether the timer is done already: then drop its pending copy (a move cut short).

        Only a timer that counted an attempt can be in this state, so only such a one is looked up.
        """
        if await self.done.find_one({"_id": timer_id}, {"_id": 1}) is None:
            return False
        await self.collection.delete_one({"_id": timer_id})
        return True

    async def _move_to_done(
        self,
        document: Mapping[str, Any],
        status: TimerStatus,
        fields: Mapping[str, Any] | None = None,
        *,
        events: Sequence[OutgoingEvent] = (),
    ) -> bool:
        """Insert the finished timer into done, then delete it from the pending ones; False if
        it was done already (its pending copy goes all the same).

        Insert first: a crash between the two leaves a done timer with a pending copy, which
        the next claim or write of it sees (`_finish_move_if_done`); never a timer in neither.
        Done timers keep real time (`done_at`) for housekeeping, as a demo clock may race ahead.

        Moves are committed in groups: the first waits for no one, and the moves that arrive
        while one group is written go together in the next (one `insert_many` and one
        `bulk_write` of deletes by `_id`), so a burst of firings shares those round trips.
        """
        finished = {**document, **(fields or {}), "status": status, "done_at": datetime.now(UTC)}
        move = _Move(with_outbox(finished, events), asyncio.get_running_loop().create_future())
        self._moves.append(move)
        if not self._moving:
            self._moving = True
            try:
                while self._moves:
                    group, self._moves = self._moves, []
                    await self._move_group(group)
            finally:
                self._moving = False
                _fail(self._moves)  # cancelled while writing: none is left waiting
                self._moves = []
        return await move.moved

    async def _move_group(self, group: list[_Move]) -> None:
        """Write one group; each mover learns its own outcome, a failure included."""
        try:
            existed = await self._insert_done([m.document for m in group])
            await self.collection.bulk_write([DeleteOne({"_id": m.document["_id"]}) for m in group])
        except Exception as exc:
            _fail(group, exc)
            return
        except BaseException:
            _fail(group)
            raise
        for move in group:
            if not move.moved.done():
                move.moved.set_result(move.document["_id"] not in existed)

    async def _insert_done(self, documents: Sequence[Document]) -> set[str]:
        """Insert finished timers (one round trip); return the ids that were done already."""
        return {documents[n]["_id"] for n in await insert_new(self.done, documents)}

    async def _move_out_finished(self) -> int:
        """Move timers an earlier version left fired, cancelled or failed among the pending ones
        (a scan, once at start; nothing to do once they are gone)."""
        moved = 0
        while finished := await self.collection.find({"status": {"$ne": TimerStatus.pending}}).to_list(
            MOVE_BATCH
        ):
            now = datetime.now(UTC)
            # A peer starting at the same time may move some first: theirs are kept.
            await self._insert_done([{OUTBOX: {}, OUTBOX_PENDING: 0, "done_at": now, **d} for d in finished])
            await self.collection.bulk_write([DeleteOne({"_id": d["_id"]}) for d in finished], ordered=False)
            moved += len(finished)
        return moved


class MoveFailed(Exception):
    """A finished timer's move to done did not complete (the cause says why)."""


@dataclass(frozen=True, slots=True)
class _Move:
    """A finished timer on its way to done, and whether it got there first."""

    document: Document
    moved: asyncio.Future[bool]


def _fail(moves: Sequence[_Move], cause: Exception | None = None) -> None:
    """Wake whoever waits on `moves` with an error: each timer stays pending (or, if its done
    copy got in, is finished by its next claim), like after a crash."""
    for move in moves:
        if not move.moved.done():
            error = MoveFailed(
                "moving the finished timer failed" if cause else "the timer move was cancelled"
            )
            error.__cause__ = cause
            move.moved.set_exception(error)
            move.moved.exception()  # retrieved: one nobody awaits any more logs no warning


def _stored(timer: Timer) -> Document:
    """The claimed timer as its pending document held it (attempts counted)."""
    return {
        "_id": timer.id,
        "kind": timer.kind,
        "due_at": timer.due_at,
        "attempts": timer.attempts,
        "payload": dict(timer.payload),
        "trace": dict(timer.trace),
    }


def _ran_out(lease: Lease) -> bool:
    """Whether the lease has expired by now, so another worker may hold the timer (no round
    trip: leases are real time, taken over only once expired or their holder is dead)."""
    return datetime.now(UTC) >= lease.expires_at


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
        sweep_interval_seconds: float = 60.0,
        max_attempts: int = 10,
        concurrency: int = 16,
        done_retention: timedelta = timedelta(days=30),
        prune_interval_seconds: float = 3600.0,
        on_fired: Callable[[str, str], None] = lambda collection, timer_id: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`done_retention`: how long a finished timer keeps its id from being scheduled again
        (at least as long as a redelivered event may try, i.e. the inbox retention)."""
        self._store = store
        self._handlers = handlers  # read at each firing: a runtime registers kinds before start
        self._owner = owner
        self._lease = timedelta(seconds=lease_seconds)
        self._retry_after = domain_span(clock, lease_seconds)  # a failed timer waits out its lease
        self._pacer = Pacer(poll_interval_seconds)
        self._sweeps = SweepSchedule(sweep_interval_seconds)
        self._max_attempts = max_attempts
        self._slots = asyncio.Semaphore(concurrency)
        self._done_retention = done_retention
        self._prunes = SweepSchedule(prune_interval_seconds)
        self._on_fired = on_fired
        self._clock = clock

    async def fire_due(self, *, sweep: bool = True) -> int:
        """Fire every timer due now that no other worker holds; return how many this one fired.

        With `sweep`, first asks the database what is due or coming (see the module
        docstring); without, fires only what the store remembers.
        """
        if sweep:
            self._sweeps.done()
            await self._store.sweep(self._clock())
        fired = 0
        skipped: set[str] = set()
        # After `stop()` no new batch starts: a backlog must not hold a shutdown to its grace.
        while not self._pacer.stopped and (
            candidates := [
                i
                for i in self._store.remembered_due(self._clock(), limit=DUE_BATCH + len(skipped))
                if i not in skipped
            ]
        ):
            outcomes = await asyncio.gather(
                *(self._claim_and_fire(i) for i in candidates), return_exceptions=True
            )
            for timer_id, outcome in zip(candidates, outcomes, strict=True):
                if outcome is True:
                    fired += 1
                else:
                    skipped.add(timer_id)  # held elsewhere, or failed: after its lease
            # The others finished first (none is left half-fired); then the pass retries.
            if failure := next((o for o in outcomes if isinstance(o, BaseException)), None):
                raise failure
        return fired

    async def _claim_and_fire(self, timer_id: str) -> bool:
        async with self._slots:
            if self._pacer.stopped:
                return False  # shutting down: the timer stays pending for a peer or a restart
            claim = await self._store.claim(timer_id, self._owner, self._clock(), self._lease)
            return claim is not None and await self._fire(claim)

    async def _fire(self, claim: Claim) -> bool:
        """Fire in a span continuing the trace that scheduled the timer (else a new trace); the
        span covers the handler and the write that marks it fired, so its events carry it too."""
        timer = claim.timer
        attributes = {"carepath.timer_id": timer.id, "carepath.timer_kind": timer.kind}
        with continued(f"timer {timer.kind}", timer.trace, attributes=attributes):
            return await self._run(claim)

    async def _run(self, claim: Claim) -> bool:
        timer = claim.timer
        handler = self._handlers.get(timer.kind)
        if handler is None:
            await self._store.give_up(claim, f"no handler for timer kind {timer.kind!r}")
            log.error("timer kind has no handler", timer_id=timer.id, kind=timer.kind)
            return False
        try:
            events = await handler(timer)
        except Exception as exc:
            TIMER_FAILURES.labels(timer.kind).inc()
            if timer.attempts >= self._max_attempts:
                await self._store.give_up(claim, describe_error(exc))  # never the text: it may quote data
                log.error(
                    "timer failed for good", timer_id=timer.id, kind=timer.kind, attempts=timer.attempts
                )
            else:
                # The lease is kept: the timer is retried once it runs out (a natural backoff).
                self._store.remember(timer.id, self._clock() + self._retry_after, overdue_since=timer.due_at)
                log.warning(
                    "timer handler failed; retried after its lease",
                    timer_id=timer.id,
                    kind=timer.kind,
                    exc_info=True,
                )
            return False
        if not await self._store.complete(claim, events, self._clock()):
            log.info("timer taken over by another worker", timer_id=timer.id)
            return False
        TIMERS_FIRED.labels(timer.kind).inc()
        log.info("timer fired", timer_id=timer.id, kind=timer.kind, events=len(events))
        if events:
            self._on_fired(self._store.done.name, timer.id)  # its events are in its done copy
        return True

    def sweep_soon(self) -> None:
        """Sweep at the next pass (a replica died: what it remembered is nobody's now)."""
        self._sweeps.soon()
        self._pacer.nudge()

    def stop(self) -> None:
        """Finish the current pass and return from `run()`."""
        self._pacer.stop()
        TIMER_LAG_SECONDS.forget(self)

    def report_lag(self) -> float:
        """Set `carepath_timer_lag_seconds` from what the store remembers; return it.

        In real seconds: on a demo clock domain time runs `speed` times faster.
        """
        lag = self._store.lateness(self._clock()).total_seconds() / speed_of(self._clock)
        if self._pacer.stopped:
            TIMER_LAG_SECONDS.forget(self)  # a stopped worker knows of nothing late any more
        else:
            TIMER_LAG_SECONDS.set(self, lag)
        return lag

    async def prune_done(self) -> int:
        """Drop finished timers older than the retention (real time); return how many."""
        self._prunes.done()
        pruned = await self._store.prune(datetime.now(UTC) - self._done_retention)
        if pruned:
            log.info("finished timers pruned", count=pruned)
        return pruned

    async def run(self) -> None:
        while not self._pacer.stopped:
            try:
                await self.fire_due(sweep=self._sweeps.due)
            except Exception:
                log.exception("timer pass failed; will retry")
                self._sweeps.soon()  # what the failed pass missed is found again
            self.report_lag()
            if self._prunes.due and not self._pacer.stopped:
                try:
                    await self.prune_done()
                except Exception:
                    log.warning("pruning finished timers failed; will retry", exc_info=True)
            await self._pacer.pause()
