"""A batch of many updates completes on the MongoDB-wire server; it never hangs its database.

An `update` command carries a batch of statements (a `bulk_write` of `UpdateOne` and
`ReplaceOne`, which `DocumentStore.update_many` and the outbox's removal of sent entries
send when writes meet). FerretDB 1.24.2's SQLite backend kept each statement's query open,
and with it a pooled connection, until the whole batch was done, from a pool of 100 per
database: a batch of about a hundred statements took them all and waited for one more, and
every request to that database hung, silently, until it was dropped. The journey bench met it
at 30 intakes/s (the notifications service stopped dead). The launcher builds FerretDB with
deploy/local/ferretdb/pool-deadlock.patch; MongoDB never had the problem, and there this
simply passes.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from pymongo import AsyncMongoClient, ReplaceOne, UpdateOne

from tests.support.infrastructure import Infrastructure

STATEMENTS = 150
"""Updates in one batch: past the 100 pooled connections that hung the database."""
PATIENCE_SECONDS = 60.0
"""A bound on a hang, not a speed goal: the batch takes a fraction of a second."""


async def test_a_batch_of_many_updates_completes_and_the_database_still_answers(
    infrastructure: Infrastructure,
) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infrastructure.mongodb_uri)
    name = f"test_{uuid.uuid4().hex[:12]}"
    try:
        slots = client[name]["slots"]
        await slots.insert_many([{"_id": f"slot-{n}", "held": False} for n in range(STATEMENTS)])
        batch = [
            ReplaceOne({"_id": f"slot-{n}"}, {"held": True, "by": "replace"})
            if n % 2
            else UpdateOne({"_id": f"slot-{n}"}, {"$set": {"held": True}})
            for n in range(STATEMENTS)
        ]

        async with asyncio.timeout(PATIENCE_SECONDS):
            result = await slots.bulk_write(batch, ordered=False)
            await slots.update_one({"_id": "slot-0"}, {"$set": {"again": True}})  # and after it

        assert result.modified_count == STATEMENTS
        assert await slots.count_documents({"held": True}) == STATEMENTS
        assert await slots.find_one({"_id": "slot-1"}) == {"_id": "slot-1", "held": True, "by": "replace"}
        assert await slots.find_one({"_id": "slot-0"}) == {"_id": "slot-0", "held": True, "again": True}
    finally:
        await client.drop_database(name)
        await client.close()
