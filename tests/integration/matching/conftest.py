"""One matching service per test process: started once, shared by the tests that ask for it.

Starting the service (topics, seven consumer group joins) is most of an integration
test's time, so a pytest process (an xdist worker) runs one, on its own topic prefix and
database; tests stay independent through jurisdictions of their own (`service.Place`) and
their own ids, whichever process runs them. Its topics are deleted afterwards: a broker
that keeps every test run's partitions runs out of memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from tests.integration.matching.service import RunningMatching, running_matching
from tests.support.infrastructure import Infrastructure
from tests.support.isolation import isolated_place


@pytest.fixture(scope="session")
async def matching(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[RunningMatching]:
    async with (
        isolated_place(infrastructure, mongo_client, "matching") as place,
        running_matching(place.kafka, place.mongo, place.database) as service,
    ):
        yield service
