"""One notifications service per test module: started once, shared by the module's tests.

Starting the service (topic creation, consumer group joins) is most of an integration
test's time, so each module runs one, on its own topic prefix and database, with its own
SMTP server, provider and manual clock; its tests stay independent by using their own
recipient and session ids.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from shared.settings import MongoSettings
from tests.integration.notifications.service import RunningNotifications, running_notifications
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import drop_topics, isolated


@pytest.fixture(scope="module")
async def notifications(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[RunningNotifications]:
    kafka = isolated(infrastructure.kafka_bootstrap_servers)
    database = f"test_notifications_{uuid.uuid4().hex[:12]}"
    async with running_notifications(
        kafka, MongoSettings(uri=SecretStr(infrastructure.mongodb_uri)), database
    ) as service:
        yield service
    await mongo_client.drop_database(database)
    await drop_topics(kafka)
