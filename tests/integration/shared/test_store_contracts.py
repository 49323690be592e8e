"""The in-memory fake and the real `DocumentStore` keep the same contract, checked side by side.

Handler unit tests trust the fake; these tests are why they may.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.ports import Documents
from shared.storage import AlreadyExists
from shared.storage.documents import DocumentStore, Revision
from shared.storage.locks import Locks
from tests.support.fakes import InMemoryDocuments
from tests.support.kafka import check_in_due, event


@pytest.fixture(params=["fake", "real"])
async def documents(request: pytest.FixtureRequest, mongo_db: AsyncDatabase[Any]) -> AsyncIterator[Documents]:
    if request.param == "fake":
        yield InMemoryDocuments("counters")
    else:
        yield DocumentStore(mongo_db["counters"], Locks(mongo_db["locks"]), owner="contract")


def increment(document: dict[str, Any] | None) -> Revision:
    current = document or {}
    return Revision({**current, "n": current.get("n", 0) + 1})


async def test_a_cause_applied_once_changes_nothing_when_it_comes_again(documents: Documents) -> None:
    cause = event(check_in_due(check_in_id="ci-contract")).envelope
    await documents.insert({"_id": "c-1", "n": 0})

    first = await documents.update("c-1", increment, cause=cause)
    again = await documents.update("c-1", increment, cause=cause)
    other = await documents.update("c-1", increment)

    assert first == again == {"_id": "c-1", "n": 1}
    assert other == {"_id": "c-1", "n": 2}


async def test_an_insert_repeated_by_its_cause_is_recognised_and_any_other_duplicate_refused(
    documents: Documents,
) -> None:
    cause = event(check_in_due(check_in_id="ci-insert")).envelope
    assert await documents.insert({"_id": "d-1", "n": 1}, cause=cause) is True
    assert await documents.insert({"_id": "d-1", "n": 1}, cause=cause) is False
    with pytest.raises(AlreadyExists):
        await documents.insert({"_id": "d-1", "n": 1})


async def test_upsert_creates_then_changes_and_update_of_a_missing_document_creates_nothing(
    documents: Documents,
) -> None:
    assert await documents.update("absent", increment) is None
    assert await documents.upsert("u-1", increment) == {"_id": "u-1", "n": 1}
    assert await documents.upsert("u-1", increment) == {"_id": "u-1", "n": 2}
    assert await documents.get("absent") is None


async def test_find_filters_sorts_and_pages_without_internal_fields(documents: Documents) -> None:
    now = datetime.now(UTC)
    for i in range(5):
        await documents.insert({"_id": f"f-{i}", "group": "a" if i % 2 else "b", "at": now, "rank": 5 - i})

    page = await documents.find({"group": "b"}, sort=[("rank", 1)], skip=1, limit=1)
    in_list = await documents.find({"_id": {"$in": ["f-1", "f-3"]}})

    assert page == [{"_id": "f-2", "group": "b", "at": page[0]["at"], "rank": 3}]
    assert [d["_id"] for d in in_list] == ["f-1", "f-3"]


async def test_a_deleted_document_is_gone_and_deleting_again_says_so(documents: Documents) -> None:
    await documents.insert({"_id": "claim-1"})
    assert await documents.delete("claim-1") is True
    assert await documents.get("claim-1") is None
    assert await documents.delete("claim-1") is False
    assert await documents.insert({"_id": "claim-1"}) is True  # free to be claimed again
