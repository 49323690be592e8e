"""MongoDB round trips of one notice on the real service (issue 18: a tenth of the work per intake).

Counted with PyMongo's global command monitoring (the runtime's own client included), from
the event's publication until every delivery of the notice is recorded. What a test pins
here does not depend on timing: the recipient is read once, the claims are one insert, and
deliveries attempted at once need no timer. `SHOW_ROUND_TRIPS=1 pytest -s` prints them all.

Measured for an intake-received notice to a client with e-mail and phone (three deliveries:
e-mail, SMS, in-app): 56 round trips before (each delivery by a timer; the recipient read
four times), 28 after; both besides the consume pipeline's own inbox read and write.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.bench.profiling import MongoCommands
from tests.integration.notifications.service import RunningNotifications, new_id, running_notifications
from tests.support.infrastructure import Infrastructure
from tests.support.isolation import isolated_place
from tests.support.kafka import eventually
from tests.unit.notifications import samples


@pytest.fixture(scope="module")
async def counted(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[Counted]:
    """A notifications service whose MongoDB client was created after the listener went in."""
    commands = MongoCommands.install()
    async with (
        isolated_place(infrastructure, mongo_client, "notifications") as place,
        running_notifications(place.kafka, place.mongo, place.database) as service,
    ):
        yield Counted(service, commands, mongo_client[place.database])


@dataclass
class Counted:
    service: RunningNotifications
    commands: MongoCommands
    database: AsyncDatabase[Any]
    """Read through a client created before the listener: its reads are not counted."""

    async def all_recorded(self, recipient_id: str, count: int) -> None:
        async def recorded() -> bool:
            found = await self.database["deliveries"].find({"recipient_id": recipient_id}).to_list()
            return len(found) == count and all(d["status"] == "delivered" for d in found)

        await eventually(recorded, timeout=20.0, interval=0.05)


def counts(commands: MongoCommands) -> Counter[str]:
    return Counter({f"{call} {target}": len(times) for (call, target), times in commands.durations.items()})


async def test_a_notice_due_now_reads_its_recipient_once_claims_in_one_insert_and_needs_no_timer(
    counted: Counted,
) -> None:
    n = counted.service
    client, phone = new_id("client"), "+15550002222"
    await n.register(client, email=f"{client}@example.org", phone=phone)

    with counted.commands.recording():
        await n.publish(samples.intake_completed(client))
        await counted.all_recorded(client, 3)
        await asyncio.sleep(0.5)
    seen = counts(counted.commands)
    if os.environ.get("SHOW_ROUND_TRIPS"):
        print(sorted(seen.items()), sum(seen.values()))

    assert seen["find recipients"] == 1
    assert seen["insert deliveries"] == 1
    assert seen["insert timers"] == seen["find timers_done"] == 0
