"""Two replicas of scheduling as real processes: a contended slot is booked once; a killed
replica's check-in is fired by the other.

The tests share one pair of replicas (see conftest); the last one kills a replica, so it
stays last.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx

from shared.http.auth import Role
from shared.storage.locks import Locks
from shared.storage.timers import TimerStore
from tests.e2e.scheduling.conftest import Deployment
from tests.e2e.scheduling.processes import bearer
from tests.support.kafka import eventually, read_records

CLIENTS = 50
WEEKLY = [{"day": d, "start": "09:00", "end": "17:00"} for d in ("tuesday", "wednesday", "thursday")]
ADMIN = bearer("admin", Role.admin)


def a_weekday_ahead(days: int, hour: int) -> datetime:
    day = (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    while day.weekday() not in (1, 2, 3):
        day += timedelta(days=1)
    return day


def set_availability(deployment: Deployment, therapist_id: str) -> None:
    answer = httpx.put(
        f"{deployment.replicas[0].base}/v1/therapists/{therapist_id}/availability",
        json={"timezone": "UTC", "weekly": WEEKLY},
        headers=ADMIN,
    )
    assert answer.status_code == 200, answer.text


async def test_fifty_concurrent_bookings_of_one_slot_over_two_replicas_book_it_once(
    deployment: Deployment,
) -> None:
    set_availability(deployment, "t-contended")
    starts = a_weekday_ahead(3, 10)

    async def book(client: httpx.AsyncClient, n: int) -> int:
        answer = await client.post(
            f"{deployment.replicas[n % 2].base}/v1/sessions",
            json={"client_id": f"c-{n}", "therapist_id": "t-contended", "starts_at": starts.isoformat()},
            headers=bearer(f"c-{n}", Role.client),
        )
        return answer.status_code

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=CLIENTS)) as client:
        statuses = Counter(await asyncio.gather(*(book(client, n) for n in range(CLIENTS))))

    assert statuses == {201: 1, 409: CLIENTS - 1}
    calendar = await deployment.database["therapist_sessions"].find_one({"_id": "t-contended"})
    assert calendar is not None
    held = [s for s in calendar["sessions"] if s["status"] == "booked"]
    assert len(held) == 1 and held[0]["starts_at"] == starts


async def test_a_check_in_timer_fires_after_the_replica_holding_its_lease_is_killed(
    deployment: Deployment,
) -> None:
    db, replicas = deployment.database, deployment.replicas
    locks = Locks(db["locks"])
    set_availability(deployment, "t-1")
    booked = httpx.post(
        f"{replicas[0].base}/v1/sessions",
        json={
            "client_id": "c-check-in",
            "therapist_id": "t-1",
            "starts_at": a_weekday_ahead(3, 11).isoformat(),
        },
        headers=bearer("c-check-in", Role.client),
    )
    assert booked.status_code == 201, booked.text
    timer = await db["timers"].find_one({"kind": "check-in", "payload.client_id": "c-check-in"})
    assert timer is not None and timer["status"] == "pending"

    # Hold the client's record, so whichever replica claims the timer is caught mid-firing,
    # then make the check-in due now.
    record = await locks.acquire("clients/c-check-in", "e2e-test", timedelta(seconds=120))
    await TimerStore(db["timers"], locks, owner="e2e-test").reschedule(timer["_id"], datetime.now(UTC))

    async def claimed() -> bool:
        return await db["locks"].find_one({"_id": f"timers/{timer['_id']}"}) is not None

    await eventually(claimed)
    lease = await db["locks"].find_one({"_id": f"timers/{timer['_id']}"})
    assert lease is not None
    holder_pid = int(lease["owner"].rsplit(":", 2)[1])  # instance names are service@host:pid:suffix
    [holder] = [r for r in replicas if r.process.pid == holder_pid]
    holder.process.kill()  # SIGKILL: no shutdown, its lease stays behind
    holder.process.wait()
    await locks.release(record)

    topic = deployment.kafka.topic("check-in-due")
    [due] = await read_records(deployment.kafka, topic, expect=1, timeout=45, settle=1.0)

    assert due.key == b"c-check-in"
    fired = await db["timers"].find_one({"_id": timer["_id"]})
    assert fired is not None and fired["status"] == "fired"
