"""Concurrent writers of a few documents in one process: what each write costs.

Many writers want one document at once when proposals race for the best-ranked therapists,
or a burst of notices reaches one recipient. A `DocumentStore` folds the changes of one
document that meet into one write (group commit); this section measures a write's cost
when 20 writers share 3 documents (hot) and when they spread over 50, on the real server:
wall-clock and this process's CPU per write, and MongoDB round trips per write.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pymongo import AsyncMongoClient

from shared.storage import Document
from shared.storage.documents import DocumentStore, Revision
from shared.storage.locks import Locks
from tests.bench.harness import Bench
from tests.support.round_trips import RoundTrips

WRITERS = 20
WRITES_EACH = 60
LINGER_SECONDS = 0.1  # the services' default


def increment(document: Document) -> Revision:
    return Revision({**document, "n": document.get("n", 0) + 1})


async def _case(bench: Bench, documents: int) -> dict[str, Any]:
    counted = RoundTrips()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        bench.mongodb_uri, tz_aware=True, event_listeners=[counted]
    )
    async with bench.scope(f"hot{documents}") as scope:
        db = client[scope.database]
        locks = Locks(db["locks"], linger_seconds=LINGER_SECONDS)
        store = DocumentStore(db["docs"], locks, owner="bench")
        ids = [f"d-{n}" for n in range(documents)]
        await db["docs"].insert_many([{"_id": i, "n": 0} for i in ids])
        counted.clear()

        async def writer(k: int) -> None:
            for n in range(WRITES_EACH):
                await store.update(ids[(k * 7 + n) % documents], increment)

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(writer(k) for k in range(WRITERS)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        await locks.release_lingering()
        writes = WRITERS * WRITES_EACH
        stored = sum([d["n"] async for d in db["docs"].find({}, {"n": 1})])
        await client.close()
    return {
        "documents": documents,
        "writes": writes,
        "all_stored": stored == writes,
        "ms_per_write": round(wall / writes * 1000, 3),
        "cpu_ms_per_write": round(cpu / writes * 1000, 3),
        "round_trips_per_write": round(sum(counted.seen.values()) / writes, 2),
        "replaces_per_write": round(counted.seen[("update", "docs")] / writes, 2),
    }


async def run(bench: Bench) -> dict[str, Any]:
    return {"hot": await _case(bench, 3), "spread": await _case(bench, 50)}


def summary(results: dict[str, Any]) -> str:
    lines = [
        f"hot documents: {WRITERS} concurrent writers x {WRITES_EACH} updates in one process",
        f"  {'case':<22} {'ms/write':>9} {'cpu ms':>8} {'round trips':>12} {'replaces':>9} {'stored':>7}",
    ]
    for key in ("hot", "spread"):
        row = results[key]
        case = f"{key} ({row['documents']} documents)"
        lines.append(
            f"  {case:<22} {row['ms_per_write']:>9} {row['cpu_ms_per_write']:>8} "
            f"{row['round_trips_per_write']:>12} {row['replaces_per_write']:>9} "
            f"{'all' if row['all_stored'] else 'LOST':>7}"
        )
    lines.append("  (per write: wall-clock, this process's CPU, MongoDB round trips, replaces sent)")
    return "\n".join(lines)
