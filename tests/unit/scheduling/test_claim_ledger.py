"""The claim ledger: a booking's cells in one ordered insert, all or nothing, and a cancelled
session's cells free for the next booking without a release."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from services.scheduling.commands.book_session import BookSession, book_session
from services.scheduling.commands.cancel_session import CancelSession, cancel_session
from services.scheduling.context import SchedulingContext
from services.scheduling.domain.cancellation import CancelledBy
from services.scheduling.domain.claims import cell_claim_id
from services.scheduling.domain.policy import Policy
from services.scheduling.store.claims import HELD, ClaimLedger
from shared.events.envelope import Envelope
from shared.storage import Document
from shared.storage.documents import Change
from tests.support.fakes import InMemoryDocuments, ManualClock
from tests.unit.scheduling.conftest import weekdays
from tests.unit.scheduling.support import available, care, propose

NOON = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


class CountingDocuments(InMemoryDocuments):
    """Counts the calls that are round trips to the database (an update is one lease-held write)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.calls: Counter[str] = Counter()
        self._in_update = False

    async def get(self, document_id: str) -> Document | None:
        self.calls["get"] += not self._in_update
        return await super().get(document_id)

    async def insert_many(self, documents: Sequence[Mapping[str, Any]]) -> set[str]:
        self.calls["insert_many"] += 1
        return await super().insert_many(documents)

    async def insert_in_order(self, documents: Sequence[Mapping[str, Any]]) -> int | None:
        self.calls["insert_in_order"] += 1
        return await super().insert_in_order(documents)

    async def update(
        self, document_id: str, change: Change, *, cause: Envelope | None = None
    ) -> Document | None:
        self.calls["update"] += 1
        self._in_update = True
        try:
            return await super().update(document_id, change, cause=cause)
        finally:
            self._in_update = False


def cells(therapist_id: str, first: int, count: int) -> list[str]:
    return [cell_claim_id(therapist_id, NOON + timedelta(minutes=5 * (first + n))) for n in range(count)]


def ledger(claims: InMemoryDocuments) -> ClaimLedger:
    return ClaimLedger(claims, InMemoryDocuments("clients"), orphan_grace=timedelta(minutes=5))


async def take(ledger_: ClaimLedger, claim_ids: Sequence[str], holder: str) -> bool:
    return await ledger_.take_all(claim_ids, holder=holder, client_id="c-1", therapist_id="t-1", now=NOON)


def holders(claims: InMemoryDocuments) -> dict[str, str]:
    return {i: d["holder"] for i, d in claims.documents.items() if d["status"] == HELD}


async def test_a_booking_claims_its_fourteen_cells_in_one_insert_and_nothing_else() -> None:
    claims = CountingDocuments("slot_claims")

    assert await take(ledger(claims), cells("t-1", 0, 14), "s-1")

    assert claims.calls == {"insert_in_order": 1}
    assert holders(claims) == dict.fromkeys(cells("t-1", 0, 14), "s-1")


async def test_a_booking_that_finds_one_cell_taken_keeps_none_of_the_cells_it_took() -> None:
    claims = InMemoryDocuments("slot_claims")
    ledger_ = ledger(claims)
    assert await take(ledger_, cells("t-1", 10, 2), "s-1")

    assert not await take(ledger_, cells("t-1", 0, 14), "s-2")

    assert holders(claims) == dict.fromkeys(cells("t-1", 10, 2), "s-1")


async def test_a_retried_booking_keeps_the_cells_its_first_attempt_took() -> None:
    claims = CountingDocuments("slot_claims")
    ledger_ = ledger(claims)
    assert await take(ledger_, cells("t-1", 0, 6), "s-1")

    assert await take(ledger_, cells("t-1", 0, 6), "s-1")

    assert holders(claims) == dict.fromkeys(cells("t-1", 0, 6), "s-1")
    assert claims.calls["update"] == 0, "its own cells are not written again"


async def test_a_booking_cancelled_half_way_releases_the_cells_it_took() -> None:
    class Stalling(InMemoryDocuments):
        async def insert_in_order(self, documents: Sequence[Mapping[str, Any]]) -> int | None:
            stopped = await super().insert_in_order(documents)
            await asyncio.Event().wait()  # the request is cancelled while its insert is in flight
            return stopped

    claims = Stalling("slot_claims")
    booking = asyncio.create_task(take(ledger(claims), cells("t-1", 0, 6), "s-1"))
    await asyncio.sleep(0.01)
    booking.cancel()
    await asyncio.gather(booking, return_exceptions=True)

    assert holders(claims) == {}


async def test_a_cancelled_sessions_cells_are_taken_by_the_next_booking_without_being_released(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    claims = CountingDocuments("slot_claims")
    ctx = SchedulingContext(replace(ctx.stores, slot_claims=claims), Policy(), clock)
    await available(ctx, "t-1", weekdays())
    await propose(ctx, "c-1", ["t-1"])
    await propose(ctx, "c-2", ["t-1"])
    starts_at = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
    first = await book_session(BookSession(client_id="c-1", therapist_id="t-1", starts_at=starts_at), ctx)
    claims.calls.clear()

    await cancel_session(CancelSession(first, CancelledBy.client, None), ctx)
    assert claims.calls["update"] == 0, "cancelling writes no claim"
    second = await book_session(BookSession(client_id="c-2", therapist_id="t-1", starts_at=starts_at), ctx)

    assert second.starts_at == starts_at
    assert set(holders(claims)) == set(second.claims)
    assert set(holders(claims).values()) == {second.session_id}
    assert [s.session_id for s in (await care(ctx, "c-1")).sessions if s.holds_time] == []


async def overtaken(claims: InMemoryDocuments) -> ClaimLedger:
    """Cells 0-11 of a booking `s-1` raced by `s-2` for cells 4-15: `s-2` took cell 4 first, but
    `s-1`'s batch overtook it on cells 5-11 (`s-1` is about to find cell 4 taken, and lose)."""
    ledger_ = ledger(claims)
    first = cells("t-1", 0, 1)[0]
    for claim_id in [*cells("t-1", 0, 4), *cells("t-1", 5, 7)]:
        claim = {"_id": claim_id, "holder": "s-1", "client_id": "c-1", "therapist_id": "t-1"}
        await claims.insert({**claim, "status": HELD, "token": "s-1", "first": first, "claimed_at": NOON})
    return ledger_


async def test_a_booking_holding_the_start_of_an_overlap_takes_the_shared_cells_its_rival_gives_up() -> None:
    claims = InMemoryDocuments("slot_claims")
    ledger_ = await overtaken(claims)

    async def rival_gives_up() -> None:
        await asyncio.sleep(0.01)
        await ledger_.release(cells("t-1", 0, 12), holder="s-1", now=NOON)

    won, _ = await asyncio.gather(take(ledger_, cells("t-1", 4, 12), "s-2"), rival_gives_up())

    assert won
    assert holders(claims) == dict.fromkeys(cells("t-1", 4, 12), "s-2")


async def test_a_booking_waits_only_so_long_for_a_rival_to_give_up_the_shared_cells() -> None:
    claims = InMemoryDocuments("slot_claims")
    await overtaken(claims)
    patient = ClaimLedger(
        claims, InMemoryDocuments("clients"), orphan_grace=timedelta(minutes=5), yield_wait_seconds=0.02
    )

    assert not await take(patient, cells("t-1", 4, 12), "s-2")  # the rival stalled: give up, keep nothing

    assert set(holders(claims).values()) == {"s-1"}
