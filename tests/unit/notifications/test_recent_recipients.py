"""A recipient read moments ago is reused, never across a write made here (store/recent.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from services.notifications.store.recent import RecentReads


class Stored:
    """The recipients as stored, counting reads; a read can be held open to meet a write."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {"c-1": {"_id": "c-1", "email": "old@example.org"}}
        self.reads = 0
        self.gate: asyncio.Event | None = None

    async def read(self, document_id: str) -> dict[str, Any] | None:
        self.reads += 1
        found = self.documents.get(document_id)
        copy = None if found is None else dict(found)
        if self.gate is not None:
            await self.gate.wait()
        return copy


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def recent(stored: Stored, clock: Clock, reuse: float = 0.25) -> RecentReads:
    return RecentReads(stored.read, reuse_seconds=reuse, clock=clock)


async def test_a_read_within_the_window_is_reused_and_one_after_it_reads_again() -> None:
    stored, clock = Stored(), Clock()
    reads = recent(stored, clock)

    first = await reads.get("c-1")
    clock.now += 0.2
    second = await reads.get("c-1")
    clock.now += 0.1  # 0.3 s after the first read began
    stored.documents["c-1"]["email"] = "new@example.org"  # written by another replica
    third = await reads.get("c-1")

    assert stored.reads == 2
    assert first == second == {"_id": "c-1", "email": "old@example.org"}
    assert third == {"_id": "c-1", "email": "new@example.org"}


async def test_a_write_made_here_drops_the_copy_at_once() -> None:
    stored, clock = Stored(), Clock()
    reads = recent(stored, clock)
    await reads.get("c-1")

    reads.changed("c-1")
    stored.documents["c-1"]["email"] = "new@example.org"
    reads.changed("c-1")

    assert await reads.get("c-1") == {"_id": "c-1", "email": "new@example.org"}
    assert stored.reads == 2


async def test_a_read_that_a_write_met_is_not_kept() -> None:
    stored, clock = Stored(), Clock()
    reads = recent(stored, clock)
    stored.gate = asyncio.Event()
    reading = asyncio.create_task(reads.get("c-1"))
    while not stored.reads:  # until the read has the old document and waits
        await asyncio.sleep(0)

    reads.changed("c-1")
    stored.documents["c-1"]["email"] = "new@example.org"
    reads.changed("c-1")
    stored.gate.set()

    assert await reading == {"_id": "c-1", "email": "old@example.org"}  # begun before the write
    assert await reads.get("c-1") == {"_id": "c-1", "email": "new@example.org"}
    assert stored.reads == 2


async def test_reads_asked_at_once_share_one_round_trip() -> None:
    stored, clock = Stored(), Clock()
    reads = recent(stored, clock)

    found = await asyncio.gather(*(reads.get("c-1") for _ in range(3)))

    assert stored.reads == 1
    assert found == [{"_id": "c-1", "email": "old@example.org"}] * 3


async def test_a_caller_changing_its_copy_does_not_change_the_next_one() -> None:
    stored, clock = Stored(), Clock()
    reads = recent(stored, clock)
    mine = await reads.get("c-1")
    assert mine is not None
    mine["email"] = "mangled"

    assert await reads.get("c-1") == {"_id": "c-1", "email": "old@example.org"}


async def test_a_window_of_zero_reads_every_time() -> None:
    stored, clock = Stored(), Clock()
    reads = recent(stored, clock, reuse=0)

    await reads.get("c-1")
    await reads.get("c-1")

    assert stored.reads == 2


async def test_an_absent_recipient_is_reused_as_absent_within_the_window() -> None:
    stored, clock = Stored(), Clock()
    reads = recent(stored, clock)

    assert await reads.get("nobody") is None
    assert await reads.get("nobody") is None
    assert stored.reads == 1
