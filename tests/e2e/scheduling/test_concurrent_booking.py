"""50 clients race for one slot across two running replicas: exactly one booking, 49 conflicts."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from shared.http.auth import Role
from shared.settings import KafkaSettings
from tests.e2e.scheduling.processes import bearer, scheduling_replicas
from tests.support.infrastructure import Infrastructure

CLIENTS = 50


def a_weekday_ahead(days: int) -> datetime:
    day = (datetime.now(UTC) + timedelta(days=days)).replace(hour=10, minute=0, second=0, microsecond=0)
    while day.weekday() not in (1, 2, 3):
        day += timedelta(days=1)
    return day


async def test_fifty_concurrent_bookings_of_one_slot_over_two_replicas_book_it_once(
    infrastructure: Infrastructure, kafka_settings: KafkaSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    with scheduling_replicas(infrastructure, kafka_settings, mongo_db.name) as replicas:
        weekly = [{"day": d, "start": "09:00", "end": "17:00"} for d in ("tuesday", "wednesday", "thursday")]
        put = httpx.put(
            f"{replicas[0].base}/v1/therapists/t-contended/availability",
            json={"timezone": "UTC", "weekly": weekly},
            headers=bearer("admin", Role.admin),
        )
        assert put.status_code == 200, put.text
        starts = a_weekday_ahead(3)

        async def book(client: httpx.AsyncClient, n: int) -> int:
            answer = await client.post(
                f"{replicas[n % 2].base}/v1/sessions",
                json={"client_id": f"c-{n}", "therapist_id": "t-contended", "starts_at": starts.isoformat()},
                headers=bearer(f"c-{n}", Role.client),
            )
            return answer.status_code

        limits = httpx.Limits(max_connections=CLIENTS)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            statuses = Counter(await asyncio.gather(*(book(client, n) for n in range(CLIENTS))))

    assert statuses == {201: 1, 409: CLIENTS - 1}
    calendar = await mongo_db["therapist_sessions"].find_one({"_id": "t-contended"})
    assert calendar is not None
    held = [s for s in calendar["sessions"] if s["status"] == "booked"]
    assert len(held) == 1 and held[0]["starts_at"].replace(tzinfo=UTC) == starts
