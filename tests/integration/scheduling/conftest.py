"""One scheduling service per test module: started once, shared by the module's tests.

Starting the service (topic creation, consumer group joins) is most of an integration
test's time, so a module runs one on its own topic prefix and database; its tests stay
independent by using their own client and therapist ids.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from shared.settings import MongoSettings
from tests.integration.scheduling.service import (
    RunningScheduling,
    running_scheduling,
    scheduling_settings,
)
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import drop_topics, isolated


@pytest.fixture(scope="module")
async def scheduling(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[RunningScheduling]:
    kafka = isolated(infrastructure.kafka_bootstrap_servers)
    database = f"test_scheduling_{uuid.uuid4().hex[:12]}"
    settings = scheduling_settings(kafka, MongoSettings(uri=infrastructure.mongodb_uri), database)
    async with running_scheduling(settings) as service:
        yield service
    await mongo_client.drop_database(database)
    await drop_topics(kafka)
