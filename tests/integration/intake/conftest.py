"""One intake service per test module: started once, shared by the module's tests.

Starting the service (consumer group joins, topic creation) is most of an integration
test's time, so each module runs one, on its own topic prefix and database; its tests
stay independent by using their own client and intake ids.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from shared.settings import MongoSettings
from tests.integration.intake.service import RunningIntake, running_intake
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import drop_topics, isolated


@pytest.fixture(scope="module")
async def intake(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[RunningIntake]:
    kafka = isolated(infrastructure.kafka_bootstrap_servers)
    database = f"test_intake_{uuid.uuid4().hex[:12]}"
    async with running_intake(
        kafka, MongoSettings(uri=SecretStr(infrastructure.mongodb_uri)), database
    ) as service:
        yield service
    await mongo_client.drop_database(database)
    await drop_topics(kafka)
