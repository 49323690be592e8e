"""Property: whatever claims race, no two held sessions of a therapist overlap, buffers included.

Claims run concurrently on fakes that yield to other tasks around every read and write
(writes of one document are serialized, as the real store's lease does; a batch insert
yields between its documents, as an unordered `insert_many` does on the server), so the
interleavings hypothesis explores include every order of the unique inserts that decide.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scheduling.commands.claim_slot import ClaimSlot, SlotUnavailable, claim_slot
from services.scheduling.context import SchedulingContext
from services.scheduling.domain.availability import Availability
from services.scheduling.domain.claims import padded
from services.scheduling.domain.policy import Policy
from services.scheduling.domain.slots import Slot
from services.scheduling.store import SchedulingStores
from shared.events.envelope import Envelope, OutgoingEvent
from shared.storage import Document
from shared.storage.documents import Creation
from tests.support.fakes import InMemoryDocuments, InMemoryTimers, ManualClock

DAY = datetime(2026, 3, 2, tzinfo=UTC)


class InterleavingDocuments(InMemoryDocuments):
    """Yields around every operation; one writer per document at a time, like the real lease."""

    def __init__(self, name: str, pace: Mapping[str, int] | None = None) -> None:
        super().__init__(name)
        self._writers: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._pace = pace or {}  # turns of the event loop a holder's batch insert takes per document

    async def get(self, document_id: str) -> Document | None:
        await asyncio.sleep(0)
        return await super().get(document_id)

    async def insert(
        self,
        document: Mapping[str, Any],
        events: Sequence[OutgoingEvent] = (),
        *,
        cause: Envelope | None = None,
    ) -> bool:
        await asyncio.sleep(0)
        return await super().insert(document, events, cause=cause)

    async def insert_many(self, documents: Sequence[Mapping[str, Any]]) -> set[str]:
        """Unordered, as the server runs it: each document its own insert, others' in between."""
        existed: set[str] = set()
        for document in documents:
            for _ in range(self._pace.get(document.get("holder", ""), 1)):
                await asyncio.sleep(0)
            existed |= await super().insert_many([document])
        return existed

    async def upsert(
        self, document_id: str, change: Creation, *, cause: Envelope | None = None
    ) -> Document | None:
        async with self._writers[document_id]:
            await asyncio.sleep(0)
            return await super().upsert(document_id, change, cause=cause)


@dataclass(frozen=True)
class Attempt:
    start_cell: int  # 5-minute cells after 08:00
    minutes: int
    before: int
    after: int


attempts = st.builds(
    Attempt,
    start_cell=st.integers(0, 60),
    minutes=st.sampled_from([30, 45, 50, 60, 90]),
    before=st.sampled_from([0, 5, 10, 15]),
    after=st.sampled_from([0, 5, 10, 15]),
)
rounds = st.lists(
    st.tuples(st.lists(attempts, min_size=1, max_size=6), st.lists(st.booleans(), max_size=8)),
    min_size=1,
    max_size=6,
)


@dataclass
class Held:
    busy: tuple[datetime, datetime]
    claims: tuple[str, ...]


def context(pace: Mapping[str, int] | None = None) -> SchedulingContext:
    stores = SchedulingStores(
        therapists=InterleavingDocuments("therapists"),
        clients=InterleavingDocuments("clients"),
        therapist_sessions=InterleavingDocuments("therapist_sessions"),
        session_refs=InterleavingDocuments("session_refs"),
        slot_claims=InterleavingDocuments("slot_claims", pace),
        calendar_feeds=InterleavingDocuments("calendar_feeds"),
        timers=InMemoryTimers(),
    )
    return SchedulingContext(stores, Policy(), ManualClock(DAY - timedelta(days=7)))


async def play(rounds_: list[tuple[list[Attempt], list[bool]]], daily_cap: int | None) -> None:
    ctx = context()
    held: dict[str, Held] = {}
    serial = 0
    for batch, cancellations in rounds_:
        for cancel, session_id in zip(cancellations, sorted(held), strict=False):
            if cancel:
                await ctx.ledger.release(held.pop(session_id).claims, holder=session_id, now=ctx.now())
        before = dict(held)

        async def claim(session_id: str, attempt: Attempt) -> tuple[str, Attempt, Any]:
            availability = Availability(
                "UTC",
                (),
                session_minutes=attempt.minutes,
                buffer_before_minutes=attempt.before,
                buffer_after_minutes=attempt.after,
                daily_cap=daily_cap,
            )
            starts_at = DAY + timedelta(hours=8, minutes=5 * attempt.start_cell)
            slot = Slot(starts_at, starts_at + timedelta(minutes=attempt.minutes))
            try:
                claimed = await claim_slot(
                    ClaimSlot(
                        session_id=session_id,
                        client_id="c-1",
                        therapist_id="t-1",
                        availability=availability,
                        slot=slot,
                    ),
                    ctx,
                )
            except SlotUnavailable:
                return session_id, attempt, None
            return session_id, attempt, claimed

        serial += len(batch)
        results = await asyncio.gather(*(claim(f"s{serial}-{i}", a) for i, a in enumerate(batch)))
        for session_id, _, claimed in results:
            if claimed is not None:
                held[session_id] = Held((claimed.busy_from, claimed.busy_to), claimed.claims)

        intervals = sorted(h.busy for h in held.values())
        for (_, end), (start, _) in itertools.pairwise(intervals):
            assert end <= start, "two held sessions overlap (buffers included)"
        if daily_cap is not None:
            assert len(held) <= daily_cap
        if len(batch) == 1 and results[0][2] is None:
            _, attempt, _ = results[0]
            starts_at = DAY + timedelta(hours=8, minutes=5 * attempt.start_cell)
            mine = padded(
                starts_at, starts_at + timedelta(minutes=attempt.minutes), attempt.before, attempt.after
            )
            clash = any(a < mine[1] and mine[0] < b for a, b in (h.busy for h in before.values()))
            full = daily_cap is not None and len(before) >= daily_cap
            assert clash or full, "a lone claim on free time was refused"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rounds=rounds, daily_cap=st.one_of(st.none(), st.integers(1, 4)))
def test_no_two_sessions_of_a_therapist_ever_overlap_whatever_claims_race(
    rounds: list[tuple[list[Attempt], list[bool]]], daily_cap: int | None
) -> None:
    asyncio.run(play(rounds, daily_cap))


async def test_of_two_overlapping_bookings_racing_exactly_one_wins_whatever_the_interleaving() -> None:
    availability = Availability("UTC", (), session_minutes=60)

    async def book(ctx: SchedulingContext, session_id: str, cell: int, turns: int) -> bool:
        for _ in range(turns):  # starts this many turns of the event loop after the other
            await asyncio.sleep(0)
        starts_at = DAY + timedelta(hours=9, minutes=5 * cell)
        slot = Slot(starts_at, starts_at + timedelta(hours=1))
        try:
            await claim_slot(ClaimSlot(session_id, "c-1", "t-1", availability, slot), ctx)
        except SlotUnavailable:
            return False
        return True

    # The later booking's inserts run slower too, so the earlier one's can overtake them and
    # the cells they share split between the two (the later then waits for the earlier's release).
    for shift, turns, pace in itertools.product((0, 1, 4, 11), range(14), (1, 3)):
        ctx = context({"s-2": pace})
        earlier, later = await asyncio.gather(book(ctx, "s-1", 0, 0), book(ctx, "s-2", shift, turns))
        assert earlier != later, f"shift {shift}, turns {turns}: {'both' if earlier else 'neither'} won"
        winner = "s-1" if earlier else "s-2"
        claims = ctx.stores.slot_claims
        assert isinstance(claims, InMemoryDocuments)
        assert {d["holder"] for d in claims.documents.values() if d["status"] == "held"} == {winner}
