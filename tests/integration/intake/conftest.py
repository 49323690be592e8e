"""One intake service per test module: started once, shared by the module's tests.

Starting the service (consumer group joins, topic creation) is most of an integration
test's time, so each module runs one, on its own topic prefix and database; its tests
stay independent by using their own client and intake ids.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from tests.integration.intake.service import RunningIntake, running_intake
from tests.support.infrastructure import Infrastructure
from tests.support.isolation import isolated_place


@pytest.fixture(scope="module")
async def intake(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[RunningIntake]:
    async with (
        isolated_place(infrastructure, mongo_client, "intake") as place,
        running_intake(place.kafka, place.mongo, place.database) as service,
    ):
        yield service
