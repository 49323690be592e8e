"""Slot claims on the real database, from two replicas: a booking's cells cost two round trips,
and of bookings racing for one slot, or for overlapping ones, exactly one wins."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.scheduling.domain.claims import cell_claim_id
from services.scheduling.store.claims import HELD, ClaimLedger
from shared.storage.documents import DocumentStore
from shared.storage.locks import Locks
from tests.support.round_trips import RoundTrips

NOON = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def replicas(db: AsyncDatabase[Any]) -> list[ClaimLedger]:
    """Two replicas' ledgers: each its own locks, as separate processes have."""
    ledgers = []
    for n in range(2):
        locks, owner = Locks(db["locks"]), f"replica-{n}"
        claims = DocumentStore(db["slot_claims"], locks, owner=owner, relayed=False)
        clients = DocumentStore(db["clients"], locks, owner=owner)
        ledgers.append(ClaimLedger(claims, clients, orphan_grace=timedelta(minutes=5)))
    return ledgers


def cells(therapist_id: str, first: int, count: int) -> list[str]:
    return [cell_claim_id(therapist_id, NOON + timedelta(minutes=5 * (first + n))) for n in range(count)]


async def take(ledger: ClaimLedger, claim_ids: Sequence[str], holder: str) -> bool:
    return await ledger.take_all(claim_ids, holder=holder, client_id="c-1", therapist_id="t-1", now=NOON)


async def held(db: AsyncDatabase[Any], therapist_id: str) -> dict[str, str]:
    claims = db["slot_claims"].find({"therapist_id": therapist_id, "status": HELD})
    return {c["_id"]: c["holder"] async for c in claims}


async def test_a_booking_claims_its_cells_in_one_round_trip_and_a_loser_writes_nothing(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, trips = counted
    first, second = replicas(db)
    slot = cells("t-1", 0, 14)  # a 50-minute session with 10-minute buffers

    assert await take(first, slot, "s-1")
    assert trips.by_command() == {"insert": 1}, "one ordered insert of all fourteen cells"

    trips.clear()
    assert not await take(second, slot, "s-2")
    # Its first cell's insert, the claim found there, its holder's care record: no write.
    assert trips.by_command() == {"insert": 1, "find": 2}


async def test_of_twenty_bookings_of_one_slot_over_two_replicas_exactly_one_wins(
    mongo_db: AsyncDatabase[Any],
) -> None:
    ledgers = replicas(mongo_db)
    slot = cells("t-1", 0, 14)

    won = await asyncio.gather(*(take(ledgers[n % 2], slot, f"s-{n}") for n in range(20)))

    assert won.count(True) == 1
    assert await held(mongo_db, "t-1") == dict.fromkeys(slot, f"s-{won.index(True)}")


async def test_of_two_overlapping_bookings_over_two_replicas_exactly_one_wins_and_the_other_keeps_nothing(
    mongo_db: AsyncDatabase[Any],
) -> None:
    first, second = replicas(mongo_db)
    for shift in (1, 5, 13):  # the later booking starts this many cells after the earlier
        therapist = f"t-{shift}"
        earlier, later = cells(therapist, 0, 14), cells(therapist, shift, 14)

        won = await asyncio.gather(
            first.take_all(earlier, holder="s-1", client_id="c-1", therapist_id=therapist, now=NOON),
            second.take_all(later, holder="s-2", client_id="c-2", therapist_id=therapist, now=NOON),
        )

        assert won.count(True) == 1, f"shift {shift}: {won}"
        winner, slot = ("s-1", earlier) if won[0] else ("s-2", later)
        assert await held(mongo_db, therapist) == dict.fromkeys(slot, winner)
