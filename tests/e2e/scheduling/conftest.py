"""Two scheduling replicas as real processes, started once for the module that uses them.

Starting a replica (imports, topics, consumer group joins) is most of an end-to-end
test's time, so the module's tests share one pair on their own topic prefix and database
and keep apart by their own therapist and client ids.

The replicas run on a demo clock (`DEMO_CLOCK_SPEED`, shared/clock.py): an introduction
must have started before its therapist records it held, and care (with its check-ins)
starts only then, so domain time runs ten minutes a second; `Deployment.clock` is the
same clock, for the tests.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.clock import AcceleratedClock
from shared.ports import Clock
from shared.settings import KafkaSettings
from tests.e2e.scheduling.processes import Replica, scheduling_replicas
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import drop_topics, isolated

SPEED = 600.0  # ten domain minutes a second


@dataclass
class Deployment:
    kafka: KafkaSettings
    database: AsyncDatabase[Any]
    replicas: list[Replica]
    clock: Clock


@pytest.fixture(scope="module")
async def deployment_database(mongo_client: AsyncMongoClient[Any]) -> AsyncIterator[AsyncDatabase[Any]]:
    name = f"test_scheduling_e2e_{uuid.uuid4().hex[:12]}"
    yield mongo_client[name]
    await mongo_client.drop_database(name)


@pytest.fixture(scope="module")
async def deployment(
    infrastructure: Infrastructure,
    deployment_database: AsyncDatabase[Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Deployment]:
    kafka = isolated(infrastructure.kafka_bootstrap_servers)
    epoch = datetime.now(UTC)
    # A handler stuck behind a held record waits longer than any test needs.
    with scheduling_replicas(
        infrastructure,
        kafka,
        deployment_database.name,
        tmp_path_factory.mktemp("scheduling-replica-logs"),
        SCHEDULING_DOCUMENT_LEASE_WAIT_SECONDS="60",
        DEMO_CLOCK_SPEED=str(SPEED),
        DEMO_CLOCK_EPOCH=epoch.isoformat(),
    ) as replicas:
        yield Deployment(kafka, deployment_database, replicas, AcceleratedClock(epoch, SPEED))
    await drop_topics(kafka)  # once the replicas are gone
