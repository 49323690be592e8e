"""Kafka, then the MongoDB-wire server, restarted under a stream of intakes: nothing is lost.

The shared servers must never be disturbed, so this module starts a private Kafka and
FerretDB pair with the local launcher (its own ports and state folder, the cached
downloads reused) and restarts them the way an operator would: `down kafka` then `up`,
later `down mongo` then `up`. The four services are not touched: they must find their
way back on their own (consumers and producers reconnect, the kit retries infrastructure
failures without bound, intake answers 503 meanwhile and the test's balancer retries).

Skipped where the launcher's caches are not built (a machine whose suite runs on Docker
or other servers: building them would not fit in a test's time).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.local.launcher.settings import Settings
from tests.e2e.faults.audit import Audit, audit, wait_until_settled
from tests.e2e.faults.conftest import (
    AUTO_ASSIGN,
    MINIMUM,
    OPT_IN,
    RATE,
    SETTLE_SECONDS,
    record_and_register,
)
from tests.e2e.faults.faults import Fault
from tests.e2e.faults.load import Balancer, Stream, TimedMailSink, seed_directory
from tests.e2e.journey.system import System, running_system
from tests.support.fault_results import write_result
from tests.support.infrastructure import LAUNCHER, REPO, Infrastructure, free_port

pytestmark = [pytest.mark.timeout(3600), OPT_IN]

RECOVERY = ("up_to_all_ready_s", "up_to_next_booking_s", "up_to_next_email_s")


@dataclass
class PrivatePair:
    """A launcher-managed Kafka and MongoDB-wire server of this module's own."""

    env: dict[str, str]
    infrastructure: Infrastructure
    log: list[str] = field(default_factory=list)

    def launcher(self, *args: str) -> float:
        """Run a launcher command; returns how long it took (fails the test if it failed)."""
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, *LAUNCHER, *args],
            cwd=REPO,
            env=self.env,
            text=True,
            capture_output=True,
            check=False,
            timeout=300,
        )
        self.log.append(f"$ launcher {' '.join(args)}\n{done.stdout}{done.stderr}")
        assert done.returncode == 0, "\n".join(self.log)
        return time.monotonic() - started


@pytest.fixture(scope="module")
def private_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePair]:
    # The checkout's caches: built by the launcher's first `up` here if they are not yet
    # (when the suite used servers that were answering already).
    cache = REPO / ".local" / "cache"
    kafka, controller, mongo = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "CAREPATH_KAFKA_PORT": str(kafka),
        "CAREPATH_KAFKA_CONTROLLER_PORT": str(controller),
        "CAREPATH_MONGO_PORT": str(mongo),
        "CAREPATH_KAFKA_HEAP": "512m",
        "CAREPATH_LOCAL_DIR": str(tmp_path_factory.mktemp("private-infra")),
        "CAREPATH_CACHE_DIR": str(cache),
    }
    for name in ("CAREPATH_MONGO_BACKEND", "KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI"):
        env.pop(name, None)
    settings = Settings.from_env(env)
    pair = PrivatePair(
        env,
        Infrastructure(settings.kafka_bootstrap, settings.mongodb_uri, origin="private local launcher"),
    )
    pair.launcher("up")
    try:
        yield pair
    finally:
        pair.launcher("down")


async def first_after(check: Any, since: float, timeout: float = 240.0) -> float | None:
    """Seconds from `since` (epoch) until `check(since)` holds, polling; None if it never did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check(since):
            return time.time() - since
        await asyncio.sleep(0.2)
    return None


def booked_since(system: System) -> Any:
    topic = system.kafka.topic("session-booked")

    def check(since: float) -> bool:
        assert system.recorder is not None
        return any(r.topic == topic and r.timestamp / 1000 > since for r in list(system.recorder.records))

    return check


def mailed_since(mail: TimedMailSink) -> Any:
    return lambda since: any(at > since for at in list(mail.arrivals))


async def all_ready_since(system: System, since: float, timeout: float = 240.0) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = await asyncio.gather(*(asyncio.to_thread(p.ready) for p in system.all_processes()))
        if all(ready):
            return time.time() - since
        await asyncio.sleep(0.3)
    return None


async def restart_server(pair: PrivatePair, server: str, system: System, mail: TimedMailSink) -> Fault:
    """Stop one server of the pair, start it again, and time until the flow resumes."""
    fault = Fault("restart", server)
    fault.timings["stop_s"] = await asyncio.to_thread(pair.launcher, "down", server)
    fault.timings["start_s"] = await asyncio.to_thread(pair.launcher, "up")
    back = time.time()
    fault.timings["outage_s"] = back - fault.at
    for process in system.all_processes():
        process.not_ready_because.clear()
    checks = await asyncio.gather(
        all_ready_since(system, back),
        first_after(booked_since(system), back),
        first_after(mailed_since(mail), back),
    )
    fault.notes["not_ready_polls"] = {
        f"{process.label} {why}": polls
        for process in system.all_processes()
        for why, polls in process.not_ready_because.items()
    }
    for name, value in zip(
        ("up_to_all_ready_s", "up_to_next_booking_s", "up_to_next_email_s"), checks, strict=True
    ):
        if value is not None:
            fault.timings[name] = value
    return fault


@dataclass
class Outcome:
    audit: Audit
    faults: list[Fault]


async def run_scenario(
    system: System, pair: PrivatePair, mail: TimedMailSink, http: httpx.AsyncClient
) -> Outcome:
    directory = await seed_directory(system, http)
    stream = Stream(system, http, directory, rate=RATE, minimum=MINIMUM)
    faults_done = asyncio.Event()
    streaming = asyncio.create_task(stream.run(faults_done))
    faults: list[Fault] = []
    try:
        await asyncio.sleep(15)
        faults.append(await restart_server(pair, "kafka", system, mail))
        await asyncio.sleep(5)
        faults.append(await restart_server(pair, "mongo", system, mail))
    finally:
        faults_done.set()
        await streaming
    settle = await wait_until_settled(system, stream, timeout=SETTLE_SECONDS)
    result = await audit(system, stream, http)
    result.settle_seconds = settle
    return Outcome(result, faults)


@pytest.fixture(scope="module")
async def outcome(
    private_pair: PrivatePair, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Outcome]:
    started = time.monotonic()
    logs = Path(tmp_path_factory.mktemp("infra-fault-logs"))
    mail = TimedMailSink()
    with running_system(
        private_pair.infrastructure, logs, mail=mail, database_prefix="faults", extra_env=AUTO_ASSIGN
    ) as system:
        await record_and_register(system)
        assert system.recorder is not None
        try:
            async with httpx.AsyncClient(timeout=60, transport=Balancer(system)) as http:
                result = await run_scenario(system, private_pair, mail, http)
        finally:
            await system.recorder.stop()
    write_result(
        "infrastructure-faults",
        {
            **result.audit.as_dict(),
            "faults": [f.as_dict() for f in result.faults],
            "wall_seconds": time.monotonic() - started,
        },
    )
    yield result


def test_every_intake_is_booked_once_and_e_mailed_once_across_kafka_and_database_restarts(
    outcome: Outcome,
) -> None:
    counts = outcome.audit.counts
    assert counts["intakes_sent"] >= MINIMUM
    assert outcome.audit.problems == []
    assert counts["first_sessions_booked"] == counts["intakes_sent"] == counts["intakes_completed"]
    assert counts["emails_sent"] == counts["emails_expected"] == 2 * counts["intakes_sent"]
    assert (counts["duplicates"], counts["lost"]) == (0, 0)


def test_the_services_recover_from_each_restart_on_their_own(outcome: Outcome) -> None:
    assert [f.target for f in outcome.faults] == ["kafka", "mongo"]
    for fault in outcome.faults:
        assert {"up_to_all_ready_s", "up_to_next_booking_s", "up_to_next_email_s"} <= set(fault.timings), (
            fault
        )
