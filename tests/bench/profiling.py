"""Where a measurement's time goes: MongoDB round trips, Kafka round trips, Python CPU.

- `MongoCommands` counts every command any PyMongo client in this process sends (the
  runtime's private client included, through PyMongo's global command monitoring) and
  the server's answer time, by command and collection.
- `KafkaCalls` times aiokafka's commits and publishes (call to broker confirmation).
- `python_profile` runs a block under cProfile and keeps the top entries.

All of it is bench-only instrumentation: nothing here changes what is measured.
"""

from __future__ import annotations

import asyncio
import cProfile
import functools
import io
import pstats
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import monitoring


def _summarise(durations: dict[tuple[str, str], list[float]], events: int | None) -> list[dict[str, Any]]:
    """One row per (call, target): count, per event, mean/p50/p95 in ms, share of the total time."""
    total = sum(sum(values) for values in durations.values()) or 1.0
    rows = []
    for (call, target), values in durations.items():
        ordered = sorted(values)
        row: dict[str, Any] = {
            "call": call,
            "target": target,
            "count": len(values),
            "mean_ms": round(statistics.fmean(values) * 1000, 3),
            "p50_ms": round(ordered[len(ordered) // 2] * 1000, 3),
            "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 3),
            "total_seconds": round(sum(values), 3),
            "share_of_round_trip_time": round(sum(values) / total, 3),
        }
        if events:
            row["per_event"] = round(len(values) / events, 3)
        rows.append(row)
    return sorted(rows, key=lambda r: -r["total_seconds"])


OWN_QUERY = "carepath-bench"
"""The `comment` of the bench's own queries while a window is open: left out of the counts."""


def _by_id(query: Any) -> bool:
    """Whether `query` holds an `_id` equality, which the launcher's FerretDB serves from its `_id`
    index with any other conditions beside it (write-atomicity.patch; as shipped, only alone)."""
    if not isinstance(query, Mapping) or "_id" not in query:
        return False
    value = query["_id"]
    return not isinstance(value, Mapping) or list(value) == ["$eq"]


def _by_id_alone(name: str, command: Mapping[str, Any]) -> bool:
    """False for a read or write whose filter makes FerretDB read the whole collection."""
    if name == "find":
        return _by_id(command.get("filter"))
    if name == "update":
        return all(_by_id(u.get("q")) for u in command.get("updates", ()))
    if name == "delete":
        return all(_by_id(d.get("q")) for d in command.get("deletes", ()))
    if name in ("count", "distinct", "findAndModify"):
        return _by_id(command.get("query"))
    return name != "aggregate"  # inserts, getMore, index and admin commands need no filter


class MongoCommands(monitoring.CommandListener):
    """Round trips by command and collection, of every PyMongo client created after `install()`.

    `[scan]` marks a filter without an `_id` equality, which FerretDB 1.24 answers by reading
    the whole collection (DESIGN §5). Records only while active.
    """

    _installed: ClassVar[MongoCommands | None] = None

    def __init__(self) -> None:
        self.active = False
        self._started: dict[tuple[Any, int], tuple[str, str]] = {}
        self.durations: dict[tuple[str, str], list[float]] = defaultdict(list)

    @classmethod
    def install(cls) -> MongoCommands:
        """Register once per process; must run before the clients to watch are created."""
        if cls._installed is None:
            cls._installed = cls()
            monitoring.register(cls._installed)
        return cls._installed

    @contextmanager
    def recording(self) -> Iterator[MongoCommands]:
        self.durations = defaultdict(list)
        self._started = {}
        self.active = True
        try:
            yield self
        finally:
            self.active = False

    def counts(self) -> Counter[str]:
        """Round trips recorded, by "command collection" (e.g. "update deliveries")."""
        return Counter({f"{call} {target}": len(times) for (call, target), times in self.durations.items()})

    def summary(self, events: int | None = None) -> list[dict[str, Any]]:
        return _summarise(self.durations, events)

    def per_event(self, events: int | None) -> float | None:
        if not events:
            return None
        return round(sum(len(v) for v in self.durations.values()) / events, 2)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.active and event.command.get("comment") != OWN_QUERY:
            name = event.command_name
            target = event.command.get("collection" if name == "getMore" else name)
            label = target if isinstance(target, str) else ""
            if not _by_id_alone(name, event.command):
                label += " [scan]"
            self._started[(event.connection_id, event.request_id)] = (name, label)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._finish(event.connection_id, event.request_id, event.duration_micros, failed=False)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._finish(event.connection_id, event.request_id, event.duration_micros, failed=True)

    def _finish(self, connection: Any, request_id: int, micros: int, *, failed: bool) -> None:
        started = self._started.pop((connection, request_id), None)
        if started is not None:
            name, target = started
            self.durations[(f"{name} (failed)" if failed else name, target)].append(micros / 1e6)


class KafkaCalls:
    """Times aiokafka consumer commits and producer sends (until the broker confirmed)."""

    def __init__(self) -> None:
        self.durations: dict[tuple[str, str], list[float]] = defaultdict(list)

    @contextmanager
    def recording(self) -> Iterator[KafkaCalls]:
        original_commit = AIOKafkaConsumer.commit
        original_send = AIOKafkaProducer.send
        durations = self.durations

        @functools.wraps(original_commit)
        async def commit(consumer: AIOKafkaConsumer, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original_commit(consumer, *args, **kwargs)
            finally:
                durations[("consumer commit", "")].append(time.perf_counter() - started)

        @functools.wraps(original_send)
        async def send(producer: AIOKafkaProducer, topic: str, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            future: asyncio.Future[Any] = await original_send(producer, topic, *args, **kwargs)

            def confirmed(_: asyncio.Future[Any]) -> None:
                durations[("producer send until acked", "")].append(time.perf_counter() - started)

            future.add_done_callback(confirmed)
            return future

        AIOKafkaConsumer.commit = commit  # type: ignore[method-assign]
        AIOKafkaProducer.send = send  # type: ignore[method-assign]
        try:
            yield self
        finally:
            AIOKafkaConsumer.commit = original_commit  # type: ignore[method-assign]
            AIOKafkaProducer.send = original_send  # type: ignore[method-assign]

    def summary(self, events: int | None = None) -> list[dict[str, Any]]:
        return _summarise(self.durations, events)


# ------------------------------------------------------------------------------ cProfile

_NOISE = ("/asyncio/", "<method 'run' of '_contextvars.Context' objects>", "<string>")
IDLE = "<method 'poll' of 'select.epoll' objects>"


def _label(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/", "lib/python3"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{line}({name})"


def _package(key: tuple[str, int, str]) -> str:
    """Who a function belongs to: a library, shared/, the bench, the stdlib module, or C builtins."""
    filename, _line, name = key
    if filename == "~":
        return "idle (waiting in epoll)" if name == IDLE else "builtins (C)"
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    for own in ("shared/", "tests/"):
        if f"/{own}" in filename:
            return own.rstrip("/") + "/" + filename.split(f"/{own}", 1)[1].split("/", 1)[0]
    if "/lib/python3" in filename:
        return "stdlib " + filename.split("/lib/python3", 1)[1].split("/", 2)[1].removesuffix(".py")
    return "other"


def _rows(stats: pstats.Stats) -> dict[tuple[str, int, str], tuple[Any, ...]]:
    return stats.stats  # type: ignore[attr-defined, no-any-return]


def top_entries(
    stats: pstats.Stats,
    *,
    sort: str,
    limit: int,
    events: int | None,
    within: str | None = None,
) -> list[dict[str, Any]]:
    """The top `limit` functions by `sort` ("cumulative" or "tottime"), asyncio plumbing left out.

    `within` keeps only functions whose file path contains it (e.g. "/shared/").
    """
    index = 3 if sort == "cumulative" else 2
    ordered = sorted(_rows(stats).items(), key=lambda item: -item[1][index])
    rows = []
    for key, (_cc, ncalls, tottime, cumtime, _callers) in ordered:
        label = _label(key)
        if sort == "cumulative" and any(noise in key[0] or noise in label for noise in _NOISE):
            continue
        if within is not None and within not in key[0]:
            continue
        row: dict[str, Any] = {
            "function": label,
            "calls": ncalls,
            "self_seconds": round(tottime, 3),
            "cumulative_seconds": round(cumtime, 3),
        }
        if events:
            row["calls_per_event"] = round(ncalls / events, 2)
            row["cumulative_us_per_event"] = round(cumtime / events * 1e6, 1)
        rows.append(row)
        if len(rows) == limit:
            break
    return rows


def self_time_by_package(stats: pstats.Stats, *, events: int | None) -> list[dict[str, Any]]:
    """Where the thread's time went, by owner of the code that ran (self time, not nested)."""
    totals: dict[str, float] = defaultdict(float)
    for key, (_cc, _ncalls, tottime, _cumtime, _callers) in _rows(stats).items():
        totals[_package(key)] += tottime
    whole = sum(totals.values()) or 1.0
    rows = []
    for package, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        row: dict[str, Any] = {
            "package": package,
            "seconds": round(seconds, 3),
            "share": round(seconds / whole, 3),
        }
        if events:
            row["us_per_event"] = round(seconds / events * 1e6, 1)
        rows.append(row)
    return rows


class Profiled:
    """Filled in when the profiled block ends."""

    stats: pstats.Stats | None = None


@contextmanager
def python_profile(path: Path | None = None) -> Iterator[Profiled]:
    """Profile this thread (the event loop and every task on it) while the block runs."""
    profile = cProfile.Profile()
    profiled = Profiled()
    profile.enable()
    try:
        yield profiled
    finally:
        profile.disable()
        profiled.stats = pstats.Stats(profile)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            profile.dump_stats(str(path))
            text = io.StringIO()
            stats = pstats.Stats(profile, stream=text)
            stats.sort_stats("cumulative").print_stats(60)
            stats.sort_stats("tottime").print_stats(40)
            path.with_suffix(".txt").write_text(text.getvalue())
