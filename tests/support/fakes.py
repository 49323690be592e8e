"""In-memory fakes of the ports in `shared/ports.py`, for handler unit tests without servers.

They keep the contracts that matter to a handler: a write's events are recorded with
it, a cause already applied changes nothing, an `_id` is unique, scheduling a timer is
idempotent. `tests/integration/shared/test_store_contracts.py` runs the same assertions on
the fake and on the real `DocumentStore`, so the two cannot drift apart.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.events.envelope import Envelope, OutgoingEvent
from shared.observability.audit import Access
from shared.storage import AlreadyExists, Document
from shared.storage.documents import MAX_CAUSES, Change, Creation
from shared.storage.timers import Planned, TimerStatus


class InMemoryDocuments:
    """A `Documents` port over a dict; `events` lists every event written, in order."""

    def __init__(self, name: str = "documents") -> None:
        self.name = name
        self.documents: dict[str, Document] = {}
        self.events: list[OutgoingEvent] = []
        self._causes: dict[str, list[str]] = {}

    async def get(self, document_id: str, *, writing: bool = False) -> Document | None:
        found = self.documents.get(document_id)
        return copy.deepcopy(found) if found is not None else None

    async def find(
        self,
        query: Mapping[str, Any],
        *,
        sort: Sequence[tuple[str, int]] = (("_id", 1),),
        skip: int = 0,
        limit: int = 0,
    ) -> list[Document]:
        found = [copy.deepcopy(d) for d in self.documents.values() if _matches(d, query)]
        for key, direction in reversed(list(sort)):
            found.sort(key=lambda d: d.get(key), reverse=direction < 0)
        found = found[skip:]
        return found[:limit] if limit else found

    async def insert(
        self,
        document: Mapping[str, Any],
        events: Sequence[OutgoingEvent] = (),
        *,
        cause: Envelope | None = None,
    ) -> bool:
        document_id = document["_id"]
        if document_id in self.documents:
            if cause is not None and cause.id in self._causes.get(document_id, ()):
                return False
            raise AlreadyExists(f"{self.name}/{document_id}")
        self._store(document_id, dict(document), events, cause)
        return True

    @asynccontextmanager
    async def claiming(
        self, documents: Sequence[Mapping[str, Any]], *, also: Sequence[str] = ()
    ) -> AsyncIterator[set[str]]:
        yield await self.insert_many(documents)

    def lease_of(self, document_id: str) -> str:
        return f"{self.name}/{document_id}"

    def holding(self, leases: Sequence[str]) -> AbstractAsyncContextManager[set[str]]:
        return self.claiming((), also=leases)

    async def insert_many(self, documents: Sequence[Mapping[str, Any]]) -> set[str]:
        existed = {d["_id"] for d in documents if d["_id"] in self.documents}
        for document in documents:
            if document["_id"] not in existed:
                self._store(document["_id"], dict(document), (), None)
        return existed

    async def insert_in_order(self, documents: Sequence[Mapping[str, Any]]) -> int | None:
        for position, document in enumerate(documents):
            if document["_id"] in self.documents:
                return position
            self._store(document["_id"], dict(document), (), None)
        return None

    async def update(
        self, document_id: str, change: Change, *, cause: Envelope | None = None
    ) -> Document | None:
        return await self.upsert(document_id, _existing_only(change), cause=cause)

    async def update_many(
        self, changes: Sequence[tuple[str, Change]], *, cause: Envelope | None = None
    ) -> dict[str, Document | None]:
        return await self.upsert_many([(i, _existing_only(change)) for i, change in changes], cause=cause)

    async def upsert_many(
        self, changes: Sequence[tuple[str, Creation]], *, cause: Envelope | None = None
    ) -> dict[str, Document | None]:
        if len({document_id for document_id, _ in changes}) != len(changes):
            raise ValueError("a document is changed once per call: compose its changes")
        return {
            document_id: await self.upsert(document_id, change, cause=cause)
            for document_id, change in changes
        }

    async def upsert(
        self, document_id: str, change: Creation, *, cause: Envelope | None = None
    ) -> Document | None:
        current = await self.get(document_id)
        if current is not None and cause is not None and cause.id in self._causes.get(document_id, ()):
            return current
        revision = change(current)
        if revision is None:
            return current
        self._store(document_id, {**revision.document, "_id": document_id}, revision.events, cause)
        return await self.get(document_id)

    async def delete(self, document_id: str) -> bool:
        self._causes.pop(document_id, None)
        return self.documents.pop(document_id, None) is not None

    def _store(
        self, document_id: str, document: Document, events: Sequence[OutgoingEvent], cause: Envelope | None
    ) -> None:
        self.documents[document_id] = copy.deepcopy(document)
        self.events.extend(events)
        if cause is not None:
            self._causes[document_id] = [*self._causes.get(document_id, []), cause.id][-MAX_CAUSES:]


def _existing_only(change: Change) -> Creation:
    """`change` as a `Creation` that leaves an absent document absent."""
    return lambda current: None if current is None else change(current)


def _matches(document: Document, query: Mapping[str, Any]) -> bool:
    """Top-level equality and the few operators listings use ($in, $ne, $gt, $gte, $lt, $lte)."""
    for key, wanted in query.items():
        value = document.get(key)
        if isinstance(wanted, Mapping):
            for op, operand in wanted.items():
                checks = {
                    "$in": lambda v, o: v in o,
                    "$ne": lambda v, o: v != o,
                    "$gt": lambda v, o: v is not None and v > o,
                    "$gte": lambda v, o: v is not None and v >= o,
                    "$lt": lambda v, o: v is not None and v < o,
                    "$lte": lambda v, o: v is not None and v <= o,
                }
                if op not in checks:
                    raise NotImplementedError(f"the fake does not support {op}")
                if not checks[op](value, operand):
                    return False
        elif isinstance(value, list) and not isinstance(wanted, list):
            if wanted not in value:
                return False
        elif value != wanted:
            return False
    return True


@dataclass
class FakeTimer:
    kind: str
    due_at: datetime
    payload: dict[str, Any]
    status: TimerStatus = TimerStatus.pending


class InMemoryTimers:
    """A `Timers` port: `timers` maps timer id to its kind, due time, payload and status."""

    def __init__(self) -> None:
        self.timers: dict[str, FakeTimer] = {}

    async def schedule(
        self,
        timer_id: str,
        kind: str,
        due_at: datetime,
        payload: Mapping[str, Any] | None = None,
        *,
        first_time: bool = False,
    ) -> bool:
        return bool(await self.schedule_many([Planned(timer_id, kind, due_at, dict(payload or {}))]))

    async def schedule_many(self, planned: Sequence[Planned], *, first_time: bool = False) -> set[str]:
        created = set()
        for p in planned:
            if p.timer_id not in self.timers:
                self.timers[p.timer_id] = FakeTimer(p.kind, p.due_at, dict(p.payload))
                created.add(p.timer_id)
        return created

    async def reschedule(self, timer_id: str, due_at: datetime, *, owner: str | None = None) -> bool:
        timer = self.timers.get(timer_id)
        if timer is None or timer.status is not TimerStatus.pending:
            return False
        timer.due_at = due_at
        return True

    async def cancel(self, timer_id: str, *, owner: str | None = None) -> bool:
        timer = self.timers.get(timer_id)
        if timer is None or timer.status is not TimerStatus.pending:
            return False
        timer.status = TimerStatus.cancelled
        return True

    def pending(self) -> dict[str, FakeTimer]:
        return {i: t for i, t in self.timers.items() if t.status is TimerStatus.pending}


@dataclass
class RecordingAudit:
    """An `AuditTrail` port that keeps each access as a dict (ids only, like the real one)."""

    records: list[dict[str, Any]] = field(default_factory=list)

    async def record(self, access: Access) -> None:
        self.records.append(asdict(access))


class ManualClock:
    """A `Clock` that stands still until a test moves it."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> datetime:
        self.now += by
        return self.now
