"""`Coalesced`: requests that meet in flight go to the server together, each answered alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from shared.storage.bulk import Coalesced


class Server:
    """Answers each batch after a moment, doubling every request; can be told to fail."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.failing = False

    async def send(self, requests: Sequence[int]) -> list[int]:
        self.batches.append(list(requests))
        await asyncio.sleep(0.01)
        if self.failing:
            raise ConnectionError("server went away")
        return [2 * r for r in requests]


async def test_a_lone_request_is_sent_at_once_and_alone() -> None:
    server = Server()
    send = Coalesced(server.send)

    assert await send(1) == 2
    assert await send(2) == 4
    assert server.batches == [[1], [2]]


async def test_requests_made_while_one_is_in_flight_go_together_and_each_gets_its_own_answer() -> None:
    server = Server()
    send = Coalesced(server.send)

    answers = await asyncio.gather(*(send(n) for n in range(1, 7)))

    assert answers == [2, 4, 6, 8, 10, 12]
    assert server.batches == [[1], [2, 3, 4, 5, 6]]


async def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_still_goes() -> None:
    server = Server()
    send = Coalesced(server.send)
    first = asyncio.create_task(send(1))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(send(n)) for n in (2, 3)]
    await asyncio.sleep(0)
    server.failing = True

    outcomes = await asyncio.gather(first, *waiting, return_exceptions=True)

    assert all(isinstance(o, ConnectionError) for o in outcomes)
    server.failing = False
    assert await send(4) == 8


async def test_a_request_cancelled_while_it_waits_is_never_sent() -> None:
    server = Server()
    send = Coalesced(server.send)
    first = asyncio.create_task(send(1))
    await asyncio.sleep(0)
    cancelled, kept = asyncio.create_task(send(2)), asyncio.create_task(send(3))
    await asyncio.sleep(0)
    cancelled.cancel()

    assert await first == 2 and await kept == 6
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert server.batches == [[1], [3]]
