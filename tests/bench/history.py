"""The journey with history: the same rates again once N completed journeys are stored.

Issue 18 asks that per-intake work not grow with what the system has already done: on
FerretDB every filter but a lone `_id` equality reads the whole collection, so a query
that slips onto the hot path (or a background sweep run often enough) costs more with
every journey ever stored. The journey bench (`journey.run(history=N)`) therefore first
measures its rates on the empty system, then fills the services' databases with N
completed journeys, then measures the same rates again, and compares per intake:

- CPU, all of the system's processes (services, broker, database server, the bench),
  drain included (`cpu_with_drain`); the rest of the machine (`other`) is shown, not counted;
- MongoDB round trips, every service (the journey's `--trace` counts, which history implies).

Filling is generic: after the empty run the databases hold the documents of real journeys
(the warm-up's and the measured ones'), so every collection is read back and copied, each
copy with a new `_id` (`<original>:h<k>`, a fresh ObjectId for other kinds of id), until
the copies make N journeys. Copies keep the shape of what the services wrote; their
outboxes are emptied (history has nothing left to publish). Not copied: `locks` and
`replicas` (leases and heartbeats of the running processes, not history), `timers` (only
pending timers live there: history's are done and in `timers_done`, which is copied), and
the directory's own documents, those whose `_id` is a therapist's or an on-call
recipient's: a history of 50,000 journeys is not a directory of 50,000 x 40 therapists.

Known shortcut: history here is breadth (more documents), not depth. A therapist's
documents (scheduling's `therapist_sessions`, matching's caseload) would in truth hold the
sessions and clients of thousands of journeys; copies cannot make one document longer.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient

from shared.storage.outbox import OUTBOX, OUTBOX_PENDING

Document = dict[str, Any]

NOT_HISTORY = frozenset({"locks", "replicas", "timers"})
"""Collections not copied: leases, heartbeats, and pending timers (done ones are in `timers_done`)."""
BATCH = 1000
"""Documents per `insert_many` (one round trip, ordered=False)."""
STREAMS = 2
"""Batches in flight at once: one per core of the reference machine's database server."""
SETTLE_SECONDS = 5.0
"""Pause after filling, before the measured rates: the database's own write-behind settles."""
WITHIN = 1.2
"""Issue 18: per-intake CPU and round trips with history within 1.2 x of the empty system."""


def copy_id(original: Any, copy: int) -> Any:
    """A string id gets a suffix (readable, unique per copy); any other kind a fresh ObjectId."""
    return f"{original}:h{copy}" if isinstance(original, str) else ObjectId()


def copy_of(document: Mapping[str, Any], copy: int) -> Document:
    """`document` as the `copy`-th journey of history: new `_id`, nothing left to publish."""
    copied = {**document, "_id": copy_id(document["_id"], copy)}
    if OUTBOX in copied:
        copied[OUTBOX] = {}
    if OUTBOX_PENDING in copied:
        copied[OUTBOX_PENDING] = 0
    return copied


def copies_for(target: int, journeys: int) -> int:
    """Copies of the `journeys` stored that, with them, make at least `target` journeys (at least one)."""
    return max(1, math.ceil(target / journeys) - 1) if target > 0 and journeys > 0 else 0


def batches(documents: list[Document], copies: int, size: int = BATCH) -> Iterator[list[Document]]:
    """Every copy of every document, `size` at a time, built as they are inserted."""
    batch: list[Document] = []
    for copy in range(1, copies + 1):
        for document in documents:
            batch.append(copy_of(document, copy))
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch


async def fill(
    mongo: AsyncMongoClient[Any],
    databases: Mapping[str, str],
    *,
    journeys: int,
    target: int,
    fixed_ids: Iterable[str] = (),
    say: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Copy each service's stored journeys until `target` journeys are stored; the figures of it.

    `journeys` is how many completed journeys the databases hold now; `fixed_ids` are the
    `_id`s of the directory's documents (therapists, on-call recipients), which stay single.
    """
    copies = copies_for(target, journeys)
    fixed = set(fixed_ids)
    started = time.perf_counter()
    sources: list[tuple[str, str, list[Document]]] = []
    for service, name in databases.items():
        database = mongo[name]
        for collection in sorted(await database.list_collection_names()):
            if collection in NOT_HISTORY or collection.startswith("system."):
                continue
            documents = [
                d
                async for d in database[collection].find({})
                if not (isinstance(d["_id"], str) and d["_id"] in fixed)
            ]
            if documents:
                sources.append((service, collection, documents))
    written: dict[str, int] = {f"{service}.{collection}": 0 for service, collection, _ in sources}
    total = sum(len(documents) for _, _, documents in sources) * copies
    if not total:
        return {"journeys_requested": target, "journeys_stored": journeys, "documents_written": 0}
    done = 0
    gate = asyncio.Semaphore(STREAMS)

    async def insert(service: str, collection: str, batch: list[Document]) -> None:
        nonlocal done
        try:
            await mongo[databases[service]][collection].insert_many(batch, ordered=False)
        finally:
            gate.release()
        written[f"{service}.{collection}"] += len(batch)
        before, done = done, done + len(batch)
        if before * 10 // total != done * 10 // total:  # every tenth
            rate = done / (time.perf_counter() - started)
            say(f"history: {done:,} of {total:,} documents written ({rate:,.0f}/s)")

    async with asyncio.TaskGroup() as inserting:  # a failed insert cancels the rest and is raised
        for service, collection, documents in sources:
            for batch in batches(documents, copies):
                await gate.acquire()
                inserting.create_task(insert(service, collection, batch))
    seconds = time.perf_counter() - started
    return {
        "journeys_requested": target,
        "journeys_copied": journeys,
        "copies": copies,
        "journeys_stored": journeys * (copies + 1),
        "documents_per_journey": round(total / (journeys * copies), 1) if copies else 0,
        "documents_written": total,
        "by_collection": written,
        "fill_seconds": round(seconds, 1),
        "documents_per_second": round(total / seconds) if seconds > 0 else None,
    }


# ------------------------------------------------------------------------------ figures


def per_intake(result: Mapping[str, Any]) -> dict[str, Any]:
    """CPU ms per intake (the system's processes, drain included) and round trips per intake."""
    cpu = result.get("cpu_with_drain", {}).get("cpu_ms_per_event", {})
    trips = result.get("mongo_round_trips")
    return {
        "cpu_ms": round(sum(v for role, v in cpu.items() if role != "other"), 2),
        "other_cpu_ms": cpu.get("other"),
        "round_trips": round(sum(s["per_intake"] for s in trips.values()), 1) if trips else None,
        "lost": result.get("lost"),
    }


def ratio(high: float | None, low: float | None) -> float | None:
    if high is None or low is None or low <= 0:
        return None
    return round(high / low, 2)


def grown(empty: Mapping[str, Any], with_history: Mapping[str, Any], most: int = 6) -> list[dict[str, Any]]:
    """The round trips whose time per intake grew most with history: where history costs."""
    rows = []
    for service, trips in with_history.get("mongo_round_trips", {}).items():
        before = empty.get("mongo_round_trips", {}).get(service, {}).get("ms_per_intake", {})
        for call, ms in trips.get("ms_per_intake", {}).items():
            rows.append({"call": f"{service} {call}", "ms_per_intake": [before.get(call, 0.0), ms]})
    rows.sort(key=lambda r: r["ms_per_intake"][0] - r["ms_per_intake"][1])
    return rows[:most]


def compare(empty: Mapping[str, Any], with_history: Mapping[str, Any]) -> dict[str, Any]:
    """Per rate: the empty and the history run's per-intake figures, history / empty, and what grew."""
    out: dict[str, Any] = {}
    for rate, result in with_history.items():
        before, after = per_intake(empty.get(rate, {})), per_intake(result)
        out[rate] = {
            "empty": before,
            "history": after,
            "cpu_ratio": ratio(after["cpu_ms"], before["cpu_ms"]),
            "round_trips_ratio": ratio(after["round_trips"], before["round_trips"]),
            "grown": grown(empty.get(rate, {}), result),
        }
    return out


def goal(comparison: Mapping[str, Any]) -> dict[str, Any] | None:
    """Pass when every rate's CPU and round trips per intake are within 1.2 x and none was lost."""
    ratios = [
        r
        for figures in comparison.values()
        for r in (figures["cpu_ratio"], figures["round_trips_ratio"])
        if r is not None
    ]
    if not ratios:
        return None
    lost = sum(figures["history"]["lost"] or 0 for figures in comparison.values())
    worst = max(ratios)
    return {
        "area": "history",
        "goal": f"history: CPU and round trips per intake within {WITHIN:g}x of empty",
        "measured": worst,
        "result": "pass" if worst <= WITHIN and lost == 0 else "miss",
    }


def summary(history: Mapping[str, Any]) -> list[str]:
    filled = history.get("filled", {})
    out = [
        f"  history: {filled.get('journeys_stored', 0):,} journeys stored "
        f"({filled.get('copies', 0)} copies of the {filled.get('journeys_copied', 0)} run; "
        f"{filled.get('documents_written', 0):,} documents, {filled.get('documents_per_journey', 0)} "
        f"per journey, in {filled.get('fill_seconds', 0):g} s = {filled.get('documents_per_second')}/s)",
        "    written: " + ", ".join(f"{k} {v:,}" for k, v in filled.get("by_collection", {}).items()),
    ]
    for rate, figures in history.get("comparison", {}).items():
        empty, full = figures["empty"], figures["history"]
        out.append(
            f"    {rate}/s: CPU per intake {empty['cpu_ms']:.1f} -> {full['cpu_ms']:.1f} ms "
            f"(x{figures['cpu_ratio']}), MongoDB round trips per intake {empty['round_trips']} -> "
            f"{full['round_trips']} (x{figures['round_trips_ratio']}); rest of the machine "
            f"{empty['other_cpu_ms']} -> {full['other_cpu_ms']} ms; unbooked {full['lost']}"
        )
        if figures.get("grown"):
            out.append(
                "      round-trip time per intake that grew most (ms): "
                + ", ".join(
                    f"{g['call']} {g['ms_per_intake'][0]} -> {g['ms_per_intake'][1]}"
                    for g in figures["grown"]
                )
            )
    return out
