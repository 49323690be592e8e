"""The directory's journal on the real database: an append is a unique insert, pruning deletes by `_id`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.matching.store import journal
from shared.storage.documents import DocumentStore
from shared.storage.locks import Locks

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def journal_on(db: AsyncDatabase[Any], owner: str) -> journal.Journal:
    return journal.Journal(DocumentStore(db[journal.COLLECTION], Locks(db["locks"]), owner=owner))


async def test_of_two_appends_of_one_version_exactly_one_lands(mongo_db: AsyncDatabase[Any]) -> None:
    first, second = journal_on(mongo_db, "r1"), journal_on(mongo_db, "r2")

    landed = await asyncio.gather(
        first.append(1, ["therapists/t-1"], by="r1", at=NOW),
        second.append(1, ["therapists/t-2"], by="r2", at=NOW),
    )

    assert sorted(landed) == [False, True]
    stored = await first.read(1)
    assert stored is not None and stored["refs"] == (["therapists/t-1"] if landed[0] else ["therapists/t-2"])


async def test_pruning_raises_the_floor_and_the_last_version_is_still_found(
    mongo_db: AsyncDatabase[Any],
) -> None:
    store = journal_on(mongo_db, "r1")
    for version in range(1, 13):
        assert await store.append(version, [f"therapists/t-{version}"], by="r1", at=NOW)

    pruned = await store.prune(tip=12, keep=4, written_before=NOW + timedelta(minutes=1), now=NOW)

    assert pruned == 8
    assert await store.floor() == 9
    assert await store.read(8) is None and await store.read(9) is not None
    assert await store.tip() == 12
    assert await mongo_db[journal.COLLECTION].count_documents({}) == 5, "four entries and the floor"
