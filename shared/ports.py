"""What handlers and routes use, as protocols: documents, timers, audit trail, clock.

Services type their dependencies with these, so a handler's unit tests run on the
in-memory fakes of `tests/support/fakes.py` while integration and end-to-end tests run
the real `DocumentStore`, `TimerStore` and `AuditLog` on real servers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from shared.events.envelope import Envelope, OutgoingEvent
from shared.observability.audit import Access
from shared.storage import Document
from shared.storage.documents import Change, Creation
from shared.storage.timers import Planned

Clock = Callable[[], datetime]
"""Now, timezone-aware (UTC); injected so timers and rules can be tested at any instant."""


class Documents(Protocol):
    """One collection's documents; every write carries its events and its cause (DESIGN §4)."""

    name: str

    async def get(self, document_id: str, *, writing: bool = False) -> Document | None: ...

    async def find(
        self,
        query: Mapping[str, Any],
        *,
        sort: Sequence[tuple[str, int]] = ...,
        skip: int = 0,
        limit: int = 0,
    ) -> list[Document]: ...

    async def insert(
        self,
        document: Mapping[str, Any],
        events: Sequence[OutgoingEvent] = (),
        *,
        cause: Envelope | None = None,
    ) -> bool: ...

    async def insert_many(self, documents: Sequence[Mapping[str, Any]]) -> set[str]: ...

    async def insert_in_order(self, documents: Sequence[Mapping[str, Any]]) -> int | None: ...

    def claiming(
        self, documents: Sequence[Mapping[str, Any]], *, also: Sequence[str] = ()
    ) -> AbstractAsyncContextManager[set[str]]: ...

    def lease_of(self, document_id: str) -> str: ...

    def holding(self, leases: Sequence[str]) -> AbstractAsyncContextManager[set[str]]: ...

    async def update(
        self, document_id: str, change: Change, *, cause: Envelope | None = None
    ) -> Document | None: ...

    async def update_many(
        self, changes: Sequence[tuple[str, Change]], *, cause: Envelope | None = None
    ) -> dict[str, Document | None]: ...

    async def upsert(
        self, document_id: str, change: Creation, *, cause: Envelope | None = None
    ) -> Document | None: ...

    async def upsert_many(
        self, changes: Sequence[tuple[str, Creation]], *, cause: Envelope | None = None
    ) -> dict[str, Document | None]: ...

    async def delete(self, document_id: str) -> bool: ...


class Timers(Protocol):
    """Durable timers: scheduling is idempotent by timer id; only pending timers move."""

    async def schedule(
        self,
        timer_id: str,
        kind: str,
        due_at: datetime,
        payload: Mapping[str, Any] | None = None,
        *,
        first_time: bool = False,
    ) -> bool: ...

    async def schedule_many(self, planned: Sequence[Planned], *, first_time: bool = False) -> set[str]: ...

    async def reschedule(self, timer_id: str, due_at: datetime, *, owner: str | None = None) -> bool: ...

    async def cancel(self, timer_id: str, *, owner: str | None = None) -> bool: ...


class AuditTrail(Protocol):
    """The audit trail of reads of clinical data: ids only, never the data (DESIGN §8)."""

    async def record(self, access: Access) -> None: ...
