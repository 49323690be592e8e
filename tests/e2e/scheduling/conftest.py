"""Two scheduling replicas as real processes, started once for the module that uses them.

Starting a replica (imports, topics, consumer group joins) is most of an end-to-end
test's time, so the module's tests share one pair on their own topic prefix and database
and keep apart by their own therapist and client ids.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.settings import KafkaSettings
from tests.e2e.scheduling.processes import Replica, scheduling_replicas
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import drop_topics, isolated


@dataclass
class Deployment:
    kafka: KafkaSettings
    database: AsyncDatabase[Any]
    replicas: list[Replica]


@pytest.fixture(scope="module")
async def deployment_database(mongo_client: AsyncMongoClient[Any]) -> AsyncIterator[AsyncDatabase[Any]]:
    name = f"test_scheduling_e2e_{uuid.uuid4().hex[:12]}"
    yield mongo_client[name]
    await mongo_client.drop_database(name)


@pytest.fixture(scope="module")
async def deployment(
    infrastructure: Infrastructure, deployment_database: AsyncDatabase[Any]
) -> AsyncIterator[Deployment]:
    kafka = isolated(infrastructure.kafka_bootstrap_servers)
    # A handler stuck behind a held record waits longer than any test needs.
    with scheduling_replicas(
        infrastructure, kafka, deployment_database.name, SCHEDULING_DOCUMENT_LEASE_WAIT_SECONDS="60"
    ) as replicas:
        yield Deployment(kafka, deployment_database, replicas)
    await drop_topics(kafka)  # once the replicas are gone
