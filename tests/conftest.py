"""Fixtures shared by every test layer.

Integration and end-to-end tests get real infrastructure (see `support/infrastructure.py`),
provisioned once per run before any test starts, and isolation per test: a unique Kafka
topic prefix and a unique MongoDB database.
"""

from __future__ import annotations

import io
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.observability.logs import configure_logging
from shared.settings import KafkaSettings, MongoSettings
from tests.support.fault_results import results_since, summary_lines
from tests.support.infrastructure import (
    PROVISIONING_ERROR,
    Infrastructure,
    InfrastructureError,
    provide,
    provide_for_run,
    selects_infrastructure,
)
from tests.support.kafka import drop_topics, isolated
from tests.support.round_trips import RoundTrips

TESTS = Path(__file__).parent
PROVISIONED = pytest.StashKey[Infrastructure]()
LISTING_OPTIONS = ("help", "collectonly", "markers", "showfixtures", "show_fixtures_per_test")
RUN_STARTED = time.time()


def pytest_configure(config: pytest.Config) -> None:
    """Provision Kafka and MongoDB once, in the controller, before any test's timeout runs.

    A fresh machine spends minutes here (Kafka jars, the FerretDB build); inside a fixture
    that tripped pytest-timeout. Runs of unit tests alone start nothing; xdist workers
    inherit the addresses through the environment. A failure is kept, not raised, so unit
    tests still run and every test that needs the servers fails with the launcher's reason.
    """
    if hasattr(config, "workerinput") or any(getattr(config.option, name, False) for name in LISTING_OPTIONS):
        return
    os.environ.pop(PROVISIONING_ERROR, None)
    if not selects_infrastructure(config.args, config.invocation_params.dir):
        return
    try:
        config.stash[PROVISIONED] = provide_for_run()
    except InfrastructureError as error:
        os.environ[PROVISIONING_ERROR] = str(error)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop only what provisioning started (nothing when the servers were already running)."""
    provisioned = config.stash.get(PROVISIONED, None)
    if provisioned is not None:
        provisioned.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        layer = Path(str(item.fspath)).relative_to(TESTS).parts[0]
        if layer in ("integration", "e2e"):
            item.add_marker(getattr(pytest.mark, layer))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault-injection figures written during this run (by whichever xdist worker ran them)."""
    lines = summary_lines(results_since(RUN_STARTED))
    if lines:
        terminalreporter.section("fault injection")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def infrastructure(pytestconfig: pytest.Config) -> Iterator[Infrastructure]:
    """What pytest_configure provisioned (found in the environment), else provided here."""
    if reason := os.environ.get(PROVISIONING_ERROR):
        pytest.fail(reason, pytrace=False)
    # Shown live when it does start something: a first run builds FerretDB (minutes).
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        infra = provide()
    try:
        yield infra
    finally:
        infra.stop()


@pytest.fixture
async def kafka_settings(infrastructure: Infrastructure) -> AsyncIterator[KafkaSettings]:
    """Topics of the test's own (unique prefix), deleted when it ends."""
    kafka = isolated(infrastructure.kafka_bootstrap_servers)
    yield kafka
    await drop_topics(kafka)


@pytest.fixture
def mongo_settings(infrastructure: Infrastructure) -> MongoSettings:
    return MongoSettings(uri=infrastructure.mongodb_uri)


@pytest.fixture(scope="session")
async def mongo_client(infrastructure: Infrastructure) -> AsyncIterator[AsyncMongoClient[Any]]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(infrastructure.mongodb_uri, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture
async def mongo_db(mongo_client: AsyncMongoClient[Any]) -> AsyncIterator[AsyncDatabase[Any]]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield mongo_client[name]
    await mongo_client.drop_database(name)


@pytest.fixture
async def counted(
    infrastructure: Infrastructure, mongo_db: AsyncDatabase[Any]
) -> AsyncIterator[tuple[AsyncDatabase[Any], RoundTrips]]:
    """The test's database through a client of its own whose round trips are counted."""
    round_trips = RoundTrips()
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        infrastructure.mongodb_uri, tz_aware=True, event_listeners=[round_trips]
    )
    yield client[mongo_db.name], round_trips
    await client.close()


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Logging configured as in production (JSON, redaction), written to a string."""
    stream = io.StringIO()
    configure_logging("test-service", stream=stream)
    yield stream
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()
