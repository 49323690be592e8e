"""A check-in timer that two replicas compete for fires once (real database and broker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.settings import KafkaSettings, MongoSettings
from tests.integration.scheduling.service import (
    due_on,
    running_replicas,
    scheduling_settings,
    start_care,
    value_of,
)
from tests.support.fakes import ManualClock


async def test_a_check_in_timer_fires_once_when_two_replicas_compete(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    settings = scheduling_settings(kafka_settings, mongo_settings, mongo_db.name)
    clock = ManualClock(datetime.now(UTC))
    async with running_replicas(settings, clock) as (first, _second):
        client, written = await start_care(first)

        clock.now = written + timedelta(days=14, hours=1)  # both replicas' timer workers find it due at once
        records = await first.records("check-in-due", expect=1, settle=2.0)

    assert len(records) == 1
    assert value_of(records[0])["client_id"] == client and due_on(records[0]) == written + timedelta(days=14)
    timers = await mongo_db["timers_done"].find({"kind": "check-in", "status": "fired"}).to_list()
    assert len(timers) == 1
