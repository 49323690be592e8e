"""Many writes in one round trip: unique inserts where an `_id` that exists is an answer, not an
error, and requests that meet in flight sent together (`Coalesced`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000

T = TypeVar("T")
R = TypeVar("R")


async def insert_new(collection: AsyncCollection[Any], documents: Sequence[Mapping[str, Any]]) -> set[int]:
    """Insert `documents` (`ordered=False`: each is its own unique insert, a claim); return the
    positions of those whose `_id` existed. Any other failure raises."""
    if not documents:
        return set()
    try:
        await collection.insert_many([dict(d) for d in documents], ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if not errors or any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        return {int(error["index"]) for error in errors}
    return set()


async def insert_in_order(
    collection: AsyncCollection[Any], documents: Sequence[Mapping[str, Any]]
) -> int | None:
    """Insert `documents` in order (`ordered=True`), stopping at the first whose `_id` exists:
    its position (those before it are inserted, none after it), or None when all were. Any
    other failure raises."""
    if not documents:
        return None
    try:
        await collection.insert_many([dict(d) for d in documents], ordered=True)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if len(errors) != 1 or errors[0].get("code") != DUPLICATE_KEY:
            raise
        return int(errors[0]["index"])
    return None


class Coalesced(Generic[T, R]):
    """Requests that meet go to the server together (group commit across documents).

    A request finding none in flight is sent at once, alone; those made while a batch is in
    flight wait for it to come back, then go together in one round trip. So an idle process
    pays no extra latency, and a busy one pays one round trip per batch instead of one per
    request. `send` answers a batch in order, one result per request, or raises for all.
    """

    def __init__(self, send: Callable[[Sequence[T]], Awaitable[Sequence[R]]]) -> None:
        self._send = send
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._in_flight = False
        self._draining: set[asyncio.Task[None]] = set()

    async def __call__(self, request: T) -> R:
        if self._in_flight:
            answer: asyncio.Future[R] = asyncio.get_running_loop().create_future()
            self._waiting.append((request, answer))
            return await answer
        self._in_flight = True
        try:
            [result] = await self._send([request])
        finally:
            self._landed()
        return result

    def _landed(self) -> None:
        if not self._waiting:
            self._in_flight = False
            return
        self._in_flight = True
        task = asyncio.get_running_loop().create_task(self._drain())
        self._draining.add(task)
        task.add_done_callback(self._draining.discard)

    async def _drain(self) -> None:
        """Send what waited, batch after batch, until nothing does."""
        try:
            while self._waiting:
                batch = [(r, a) for r, a in self._waiting if not a.done()]  # skip the cancelled
                self._waiting = []
                if not batch:
                    continue
                try:
                    results = await self._send([r for r, _ in batch])
                except BaseException as exc:
                    for _, answer in batch:
                        if answer.done():
                            continue
                        if isinstance(exc, Exception):
                            answer.set_exception(exc)
                        else:
                            answer.cancel()
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, answer), result in zip(batch, results, strict=True):
                    if not answer.done():
                        answer.set_result(result)
        finally:
            self._in_flight = False
            if self._waiting:  # asked while this drain was being cancelled
                self._landed()
