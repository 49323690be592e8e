"""The whole system, started once for the journey module and shared by its tests.

Starting four service processes is most of the module's time, so its tests share one
system on its own topic prefix and databases and keep apart by their own jurisdiction
(each test's therapists are licensed in a place no other test's client lives in), client
and therapist ids. Its databases and topics are dropped afterwards.

The services run on the demo clock (`shared/clock.py`) at an hour a second, so a test
sees an introduction start, a plan's series booked and a check-in fall due in real
events within seconds; proposals are kept open for 30 days (12 real minutes) so none
lapses while a test looks at it.

With `JOURNEY_SYSTEM=external` the same tests run against a system already running
elsewhere (`external.py`: the docker compose stack, on the same clock and proposal
lifetime). It is shared, so nothing is started and nothing is dropped; the recorder reads
its topics from the beginning, earlier runs' records included, which the tests' own ids
keep apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from shared.events.registry import all_topics
from tests.e2e.journey.external import external_system, wait_until_ready
from tests.e2e.journey.system import EXTERNAL, SERVICE, Recorder, System, running_system
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import drop_topics

EVENTS = all_topics(include_dead_letters=False)  # the recorder reads every event topic
CLOCK_SPEED = 3600  # an hour a second
PROPOSAL_DAYS = 30


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed journey test shows what the services warned of meanwhile (their logs are
    files in a temporary directory, gone with a CI run's checkout)."""
    report = yield
    running = getattr(item, "funcargs", {}).get("system")
    if report.failed and call.when == "call" and isinstance(running, System) and not EXTERNAL:
        for process in running.all_processes():
            report.sections.append((f"{process.label} warnings and errors", process.complaints()))
    return report


@pytest.fixture(scope="module")
async def system(
    infrastructure: Infrastructure,
    mongo_client: AsyncMongoClient[Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[System]:
    if EXTERNAL:
        running = external_system()
        await wait_until_ready(running)
        async with recorded_with_rota(running):
            yield running
        return
    logs = Path(tmp_path_factory.mktemp("journey-logs"))
    domain_time = {
        "DEMO_CLOCK_SPEED": str(CLOCK_SPEED),
        "DEMO_CLOCK_EPOCH": datetime.now(UTC).isoformat(),
        "MATCHING_PROPOSAL_TTL_SECONDS": str(PROPOSAL_DAYS * 86_400),
    }
    with running_system(infrastructure, logs, extra_env=domain_time) as running:
        async with recorded_with_rota(running):
            yield running
    for database in running.databases.values():
        await mongo_client.drop_database(database)
    await drop_topics(running.kafka)


@asynccontextmanager
async def recorded_with_rota(running: System) -> AsyncIterator[None]:
    """The recorder reading every event topic from the start, and the on-call rota registered."""
    recorder = Recorder(running.kafka, EVENTS)
    await recorder.start()
    running.recorder = recorder
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            for n, on_call in enumerate(running.rota):
                answer = await http.put(
                    running.url("notifications", f"/recipients/{on_call}"),
                    json={"role": "on_call", "email": f"{on_call}@journey.example", "timezone": "UTC"},
                    headers=SERVICE,
                )
                assert answer.status_code == 200, (n, answer.text)
        yield
    finally:
        await recorder.stop()
