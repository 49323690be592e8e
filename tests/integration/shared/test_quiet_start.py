"""A service's first start on a fresh broker: one info line while Kafka gets ready, no errors.

A fresh broker creates its `__consumer_offsets` topic only when the first consumer group
asks for a coordinator, and answers `GroupCoordinatorNotAvailable` until it is loaded;
aiokafka's consumers log each such answer as an error, which made a first `make run`
print about 40 of them. The suite's shared broker made that topic long ago, so this module
starts a broker of its own with the local launcher (free ports, a state folder of its
own, the cached jars reused; the suite's MongoDB-wire server is used as it is when it is
local), as `tests/integration/deploy/test_local_launcher.py` does. A fresh broker is
ready in a few seconds. Skipped where the launcher's caches are not built.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from deploy.local.launcher.kafka_jars import kafka_libs
from deploy.local.launcher.settings import Settings
from shared.events.envelope import Envelope
from shared.events.models import CheckInDue, IntakeCompleted, SessionBooked
from shared.events.registry import spec_for
from shared.messaging.subscriptions import Subscription
from shared.settings import KafkaSettings, MongoSettings
from tests.support.infrastructure import LAUNCHER, REPO, Infrastructure, free_port
from tests.support.kafka import eventually
from tests.support.runtime import build_runtime

WAITING = "waiting for kafka's group coordinator (a new broker creates its offsets topic first)"
# What aiokafka logs when a heartbeat misses the session timeout: on 2 cores shared by the
# whole suite, this test's second, just-started broker JVM was once starved that long. It says
# the machine was overloaded, not that the start was noisy, so it is not counted here.
STARVED_MACHINE = {"Heartbeat session expired - marking coordinator dead"}


def launcher(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *LAUNCHER, *args],
        cwd=REPO,
        env=env,
        text=True,
        capture_output=True,
        check=False,
        timeout=300,
    )


def local_port(uri: str) -> int | None:
    """The port of a MongoDB-wire server on this machine, which a second launcher can reuse."""
    address = urlsplit(uri)
    return address.port if address.hostname in ("127.0.0.1", "localhost") else None


@pytest.fixture(scope="module")
def fresh_broker(infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Kafka broker that no consumer group has ever asked anything."""
    cache = REPO / ".local" / "cache"
    if not kafka_libs(Settings.from_env({"CAREPATH_CACHE_DIR": str(cache)}).layout).is_fresh():
        pytest.skip(
            "the launcher's Kafka jars are not cached in this checkout (the suite uses other servers)"
        )
    kafka_port = free_port()
    env = {
        **os.environ,
        "CAREPATH_KAFKA_PORT": str(kafka_port),
        "CAREPATH_KAFKA_CONTROLLER_PORT": str(free_port()),
        "CAREPATH_MONGO_PORT": str(local_port(infrastructure.mongodb_uri) or free_port()),
        "CAREPATH_KAFKA_HEAP": "256m",
        "CAREPATH_LOCAL_DIR": str(tmp_path_factory.mktemp("fresh-broker")),
        "CAREPATH_CACHE_DIR": str(cache),
    }
    for name in ("CAREPATH_MONGO_BACKEND", "KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI"):
        env.pop(name, None)
    started = launcher(env, "up")
    assert started.returncode == 0, started.stderr
    try:
        yield f"127.0.0.1:{kafka_port}"
    finally:
        # Stops what this `up` started: the broker (and a database server only if it started one).
        launcher(env, "down")


def log_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


async def test_a_first_start_on_a_fresh_broker_waits_for_the_coordinator_without_logging_errors(
    fresh_broker: str,
    log_stream: io.StringIO,
    mongo_settings: MongoSettings,
    mongo_db: AsyncDatabase[Any],
) -> None:
    async def ignore(data: Any, envelope: Envelope) -> None:
        return None

    consumed = [CheckInDue, IntakeCompleted, SessionBooked]
    kafka = KafkaSettings(bootstrap_servers=fresh_broker)
    # As a service starts: every topic created, then six consumers (two per topic) join groups.
    runtime = build_runtime(
        kafka,
        mongo_settings,
        mongo_db.name,
        subscriptions=[Subscription(model, ignore) for model in consumed],
    )
    every_partition = {
        (kafka.topic(spec_for(model).topic), partition)
        for model in consumed
        for partition in range(kafka.topic_partitions)
    }
    await runtime.start()
    try:

        async def all_assigned() -> bool:
            return runtime.assigned_partitions() == every_partition

        await eventually(all_assigned)
    finally:
        await runtime.stop()

    lines = log_lines(log_stream)
    errors = [
        f"{line.get('logger')}: {line['event']}"
        for line in lines
        if line["level"] in ("error", "critical") and line["event"] not in STARVED_MACHINE
    ]
    assert errors == []
    assert [line["level"] for line in lines if line["event"] == WAITING] == ["info"]
    assert not [line for line in lines if "GroupCoordinatorNotAvailable" in json.dumps(line)]
