"""One scheduling service per test module: started once, shared by the module's tests.

Starting the service (topic creation, consumer group joins) is most of an integration
test's time, so a module runs one on its own topic prefix and database; its tests stay
independent by using their own client and therapist ids.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from tests.integration.scheduling.service import (
    RunningScheduling,
    running_scheduling,
    scheduling_settings,
)
from tests.support.infrastructure import Infrastructure
from tests.support.isolation import isolated_place


@pytest.fixture(scope="module")
async def scheduling(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[RunningScheduling]:
    async with isolated_place(infrastructure, mongo_client, "scheduling") as place:
        settings = scheduling_settings(place.kafka, place.mongo, place.database)
        async with running_scheduling(settings) as service:
            yield service
