"""What every measurement needs: isolated names, its own clients, CPU accounting, cleanup.

Each measurement runs in a `Scope`: a topic prefix and a database of its own, both
removed afterwards. The bench talks to Kafka and MongoDB with its own aiokafka and
PyMongo clients (seeding, inspection, the bare chain); the Carepath side goes only
through a `ServiceRuntime` and the `DocumentStore`s it hands out.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic_settings import SettingsConfigDict
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.uri_parser import parse_uri

from shared.messaging.broker import kafka_connection_options, kafka_options_at
from shared.settings import KafkaSettings, MongoSettings, ServiceSettings
from tests.support.infrastructure import Infrastructure

PARTITIONS = 6

Document = dict[str, Any]


class BenchServiceSettings(ServiceSettings):
    """A service with production defaults; `BENCH_SERVICE_*` overrides any setting."""

    service_name: ClassVar[str] = "bench"
    model_config = SettingsConfigDict(env_prefix="BENCH_SERVICE_", extra="ignore")


@dataclass(frozen=True)
class Scope:
    """One measurement's isolated topics and database."""

    kafka: KafkaSettings
    mongo: MongoSettings
    database: str
    client: AsyncMongoClient[Document]

    @property
    def db(self) -> AsyncDatabase[Document]:
        return self.client[self.database]

    def settings(self, **overrides: Any) -> BenchServiceSettings:
        values: dict[str, Any] = {"shutdown_grace_seconds": 10.0} | overrides
        return BenchServiceSettings(
            kafka=self.kafka, mongo=self.mongo, mongodb_database=self.database, **values
        )

    def producer(self) -> AIOKafkaProducer:
        """acks=all and idempotent, like every Carepath producer (DESIGN §4)."""
        return AIOKafkaProducer(
            **kafka_connection_options(self.kafka),
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
        )

    async def create_topic(self, name: str, partitions: int = PARTITIONS) -> str:
        """Create `name` (prefix applied) and return the full topic name."""
        topic = self.kafka.topic(name)
        admin = AIOKafkaAdminClient(**kafka_connection_options(self.kafka))
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
        finally:
            await admin.close()
        return topic

    @asynccontextmanager
    async def watch(self) -> AsyncIterator[KafkaWatch]:
        """Clients that read topic sizes and committed offsets while a measurement runs."""
        watch = KafkaWatch(self.kafka.bootstrap_servers)
        await watch.start()
        try:
            yield watch
        finally:
            await watch.stop()


class KafkaWatch:
    def __init__(self, bootstrap_servers: str) -> None:
        self._admin = AIOKafkaAdminClient(**kafka_options_at(bootstrap_servers))
        self._consumer = AIOKafkaConsumer(**kafka_options_at(bootstrap_servers))

    async def start(self) -> None:
        await self._admin.start()
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def records_on(self, topic: str, partitions: int = PARTITIONS) -> int:
        """How many records the full topic name holds (sum of its end offsets)."""
        ends = await self._consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
        return sum(ends.values())

    async def committed(self, group_id: str) -> int:
        """Sum of the offsets `group_id` has committed (records handled and acknowledged)."""
        offsets = await self._admin.list_consumer_group_offsets(group_id)
        return sum(max(meta.offset, 0) for meta in offsets.values())


@dataclass
class Bench:
    """Where the infrastructure is, and the id that names everything this run creates."""

    infrastructure: Infrastructure
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def kafka_bootstrap_servers(self) -> str:
        return self.infrastructure.kafka_bootstrap_servers

    @property
    def mongodb_uri(self) -> str:
        return self.infrastructure.mongodb_uri

    @asynccontextmanager
    async def scope(self, what: str) -> AsyncIterator[Scope]:
        tag = f"{what}{uuid.uuid4().hex[:4]}"
        client: AsyncMongoClient[Document] = AsyncMongoClient(self.mongodb_uri, tz_aware=True)
        scope = Scope(
            kafka=KafkaSettings(
                bootstrap_servers=self.kafka_bootstrap_servers, topic_prefix=f"bench{self.run_id}-{tag}-"
            ),
            mongo=MongoSettings(uri=self.mongodb_uri),
            database=f"bench_{self.run_id}_{tag}",
            client=client,
        )
        try:
            yield scope
        finally:
            await _best_effort(client.drop_database(scope.database), f"drop database {scope.database}")
            await client.close()
            await _best_effort(
                delete_topics(self.kafka_bootstrap_servers, scope.kafka.topic_prefix),
                f"delete topics {scope.kafka.topic_prefix}*",
            )

    async def clean_up(self) -> None:
        """Remove whatever a failed clean-up of this run left behind (its topics and databases)."""
        await _best_effort(
            delete_topics(self.kafka_bootstrap_servers, f"bench{self.run_id}-"), "delete this run's topics"
        )
        client: AsyncMongoClient[Document] = AsyncMongoClient(self.mongodb_uri)
        try:
            for name in await client.list_database_names():
                if name.startswith(f"bench_{self.run_id}_"):
                    await _best_effort(client.drop_database(name), f"drop database {name}")
        except Exception as exc:
            print(f"bench: could not list databases to clean up: {exc!r}", file=sys.stderr)
        finally:
            await client.close()


async def _best_effort(step: Awaitable[Any], what: str) -> None:
    """Clean-up never fails a measurement; what it could not do is said (and retried at the end)."""
    try:
        await step
    except Exception as exc:
        print(f"bench: could not {what}: {exc!r}", file=sys.stderr)


async def delete_topics(bootstrap_servers: str, prefix: str) -> None:
    """Delete every topic whose name starts with `prefix` (this run's topics only)."""
    admin = AIOKafkaAdminClient(**kafka_options_at(bootstrap_servers))
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


async def wait_until(check: Any, *, timeout: float, interval: float = 0.05, what: str = "condition") -> float:
    """Poll the async `check()` until true; return the perf_counter time it was first seen."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
        await asyncio.sleep(interval)


async def wait_for_count(
    count: Callable[[], Awaitable[int]], target: int, *, timeout: float, interval: float = 0.05
) -> tuple[bool, int]:
    """Poll `count()` until it reaches `target` or `timeout` passes; return (reached, last count)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = await count()
        if seen >= target:
            return True, seen
        if time.monotonic() > deadline:
            return False, seen
        await asyncio.sleep(interval)


# ---------------------------------------------------------------------------------- CPU


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Process:
    role: str
    pid: int
    name: str


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                local, state, inode = parts[1], parts[3], parts[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(inode)
    return inodes


def pid_listening_on(port: int) -> int | None:
    """The local process that listens on `port`, found through /proc (Linux only)."""
    targets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not targets:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with suppress(OSError):
                    if os.readlink(fd) in targets:
                        return int(proc.name)
    return None


def _ports(kafka_bootstrap_servers: str, mongodb_uri: str) -> dict[str, int]:
    ports: dict[str, int] = {}
    first = kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)
    if len(first) == 2 and first[1].isdigit():
        ports["kafka"] = int(first[1])
    with suppress(Exception):
        ports["mongodb"] = int(parse_uri(mongodb_uri)["nodelist"][0][1])
    return ports


def find_processes(kafka_bootstrap_servers: str, mongodb_uri: str) -> list[Process]:
    """This process and, when they run on this machine, the broker and database servers."""
    found = [Process("python", os.getpid(), "bench")]
    for role, port in _ports(kafka_bootstrap_servers, mongodb_uri).items():
        pid = pid_listening_on(port)
        if pid is not None:
            with suppress(OSError):
                found.append(Process(role, pid, Path(f"/proc/{pid}/comm").read_text().strip()))
    return found


def _process_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _machine_busy_seconds() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


def goal(area: str, text: str, measured: float, passed: bool) -> dict[str, Any]:
    """One goal as the bench prints and stores it: what it asks, the figure measured, pass or miss."""
    return {"area": area, "goal": text, "measured": measured, "result": "pass" if passed else "miss"}


class CpuMeter:
    """CPU seconds used by the bench, the broker and the database while a block runs.

    `other` is everything else busy on the machine meanwhile (e.g. a test suite), which
    tells how far a figure can be trusted.
    """

    def __init__(self, processes: Iterable[Process]) -> None:
        self.processes = list(processes)

    def snapshot(self) -> tuple[float, float, dict[str, float | None]]:
        return (
            time.perf_counter(),
            _machine_busy_seconds(),
            {p.role: _process_cpu_seconds(p.pid) for p in self.processes},
        )

    @staticmethod
    def usage(
        before: tuple[float, float, Mapping[str, float | None]],
        after: tuple[float, float, Mapping[str, float | None]],
        *,
        events: int | None = None,
    ) -> dict[str, Any]:
        """Cores used on average per role (1.0 = one core busy the whole time) and CPU ms per event."""
        wall = max(after[0] - before[0], 1e-9)
        cores: dict[str, float] = {}
        for role, start in before[2].items():
            end = after[2].get(role)
            if start is not None and end is not None:
                cores[role] = (end - start) / wall
        busy = (after[1] - before[1]) / wall
        cores["other"] = max(0.0, busy - sum(cores.values()))
        result: dict[str, Any] = {"cores": {k: round(v, 2) for k, v in cores.items()}}
        if events:
            result["cpu_ms_per_event"] = {k: round(v * wall * 1000 / events, 3) for k, v in cores.items()}
        return result
