"""A restart loses no check-in timer (real database and broker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.settings import KafkaSettings, MongoSettings
from tests.integration.scheduling.service import (
    due_on,
    running_scheduling,
    scheduling_settings,
    start_care,
    value_of,
)
from tests.support.fakes import ManualClock


async def test_a_restart_loses_no_timer(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    settings = scheduling_settings(kafka_settings, mongo_settings, mongo_db.name)
    clock = ManualClock(datetime.now(UTC))
    async with running_scheduling(settings, clock) as before_restart:
        client, written = await start_care(before_restart)
    # That replica is gone; the timer is only in the database, due while nobody runs.
    clock.now = written + timedelta(days=14, hours=1)

    async with running_scheduling(settings, clock) as after_restart:
        [record] = await after_restart.records("check-in-due", expect=1)

    assert value_of(record)["client_id"] == client and due_on(record) == written + timedelta(days=14)
