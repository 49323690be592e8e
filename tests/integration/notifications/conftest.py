"""One notifications service per test module: started once, shared by the module's tests.

Starting the service (topic creation, consumer group joins) is most of an integration
test's time, so each module runs one, on its own topic prefix and database, with its own
SMTP server, provider and manual clock; its tests stay independent by using their own
recipient and session ids.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from tests.integration.notifications.service import RunningNotifications, running_notifications
from tests.support.infrastructure import Infrastructure
from tests.support.isolation import isolated_place


@pytest.fixture(scope="module")
async def notifications(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[RunningNotifications]:
    async with (
        isolated_place(infrastructure, mongo_client, "notifications") as place,
        running_notifications(place.kafka, place.mongo, place.database) as service,
    ):
        yield service
