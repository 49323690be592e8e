"""One matching service per test process: started once, shared by the tests that ask for it.

Starting the service (topics, seven consumer group joins) is most of an integration
test's time, so a pytest process (an xdist worker) runs one, on its own topic prefix and
database; tests stay independent through jurisdictions of their own (`service.Place`) and
their own ids, whichever process runs them. Its topics are deleted afterwards: a broker
that keeps every test run's partitions runs out of memory.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from shared.settings import MongoSettings
from tests.integration.matching.service import RunningMatching, running_matching
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import drop_topics, isolated


@pytest.fixture(scope="session")
async def matching(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[RunningMatching]:
    kafka = isolated(infrastructure.kafka_bootstrap_servers)
    database = f"test_matching_{uuid.uuid4().hex[:12]}"
    mongo = MongoSettings(uri=SecretStr(infrastructure.mongodb_uri))
    async with running_matching(kafka, mongo, database) as service:
        yield service
    await mongo_client.drop_database(database)
    await drop_topics(kafka)
