"""Conditional writes of one document are atomic on the MongoDB-wire server, and served by `_id`.

MongoDB applies each document's update atomically and serves a filter with an `_id` equality
from the `_id` index. FerretDB 1.24.2 ran a statement's query and its write as two steps that
other statements could come between (two conditional writes of one document both matched and
both wrote: 143-151 of 160 writes kept in the test below, with FerretDB on two threads), and read
the whole collection for any filter but a lone `_id`. The launcher builds FerretDB with
deploy/local/ferretdb/write-atomicity.patch; on MongoDB these simply pass.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.infrastructure import Infrastructure

WRITERS = 8
WRITES_EACH = 20


@pytest.fixture
async def database(infrastructure: Infrastructure) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infrastructure.mongodb_uri)
    name = f"test_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


async def test_writers_that_read_then_replace_only_the_revision_they_read_keep_every_write(
    database: AsyncDatabase[dict[str, Any]],
) -> None:
    documents = database["documents"]
    await documents.insert_one({"_id": "d", "revision": 0, "writes": []})

    async def writer(name: str) -> int:
        retries = 0
        for _ in range(WRITES_EACH):
            while True:
                current = await documents.find_one({"_id": "d"})
                assert current is not None
                written = await documents.replace_one(
                    {"_id": "d", "revision": current["revision"]},
                    {"revision": current["revision"] + 1, "writes": [*current["writes"], name]},
                )
                if written.matched_count:
                    break
                retries += 1  # another writer got there first: read again
        return retries

    await asyncio.gather(*(writer(f"w{n}") for n in range(WRITERS)))

    stored = await documents.find_one({"_id": "d"})
    assert stored is not None
    assert stored["revision"] == len(stored["writes"]) == WRITERS * WRITES_EACH


async def test_a_lease_deleted_by_its_id_and_token_by_several_takers_at_once_is_deleted_for_one(
    database: AsyncDatabase[dict[str, Any]],
) -> None:
    locks = database["locks"]
    for round_ in range(50):
        await locks.replace_one({"_id": "resource"}, {"token": f"t{round_}"}, upsert=True)
        deletes = await asyncio.gather(
            *(locks.delete_one({"_id": "resource", "token": f"t{round_}"}) for _ in range(4))
        )
        assert sum(d.deleted_count for d in deletes) == 1


async def test_a_filter_with_an_id_and_other_conditions_is_served_by_the_id_index(
    database: AsyncDatabase[dict[str, Any]],
) -> None:
    await database["documents"].insert_many([{"_id": f"d-{n}", "revision": 0} for n in range(100)])

    plan = await database.command("explain", {"find": "documents", "filter": {"_id": "d-7", "revision": 0}})

    if "ferretdbVersion" in plan.get("serverInfo", {}):
        assert plan["filterPushdown"] is True
        assert "USING INDEX" in " ".join(plan["queryPlanner"]["Plan"])
    else:  # MongoDB serves an _id equality from its _id index by itself
        assert "COLLSCAN" not in str(plan["queryPlanner"]["winningPlan"])
