"""Two replicas of scheduling as real processes: a contended slot is booked once; a killed
replica's check-in is fired by the other.

The tests share one pair of replicas on a demo clock (see conftest); the last one kills a
replica, so it stays last.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.events.common import Candidate
from shared.events.models import MatchAccepted, MatchProposed, TreatmentPlanUpdated
from shared.http.auth import Role
from shared.storage.locks import Locks
from shared.storage.timers import TimerStore
from tests.e2e.scheduling.conftest import Deployment
from tests.e2e.scheduling.processes import bearer
from tests.support.kafka import event, eventually, publish_events, read_records

CLIENTS = 50
WEEKLY = [{"day": d, "start": "09:00", "end": "17:00"} for d in ("tuesday", "wednesday", "thursday")]
ALWAYS = [
    {"day": d, "start": "00:00", "end": "24:00"}
    for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
]
ADMIN = bearer("admin", Role.admin)


def a_weekday_ahead(deployment: Deployment, days: int, hour: int) -> datetime:
    now = deployment.clock()
    day = (now + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    while day.weekday() not in (1, 2, 3):
        day += timedelta(days=1)
    return day


def set_availability(deployment: Deployment, therapist_id: str, **policy: Any) -> None:
    answer = httpx.put(
        f"{deployment.replicas[0].base}/v1/therapists/{therapist_id}/availability",
        json={"timezone": "UTC", "weekly": WEEKLY, **policy},
        headers=ADMIN,
    )
    assert answer.status_code == 200, answer.text


async def publish(deployment: Deployment, *data: Any) -> None:
    """Publish as matching and intake would, stamped with the replicas' (domain) clock."""
    await publish_events(deployment.kafka, *(event(d, now=deployment.clock()) for d in data))


async def in_care_with_a_plan(deployment: Deployment, client_id: str, therapist_id: str) -> None:
    """Proposed and accepted (the introduction booked soon), held once it started, then the plan."""
    set_availability(deployment, therapist_id, weekly=ALWAYS, min_notice_hours=0)
    base = deployment.replicas[0].base
    now = deployment.clock()
    proposal = MatchProposed(
        match_id=f"m-{client_id}",
        client_id=client_id,
        intake_id=f"i-{client_id}",
        candidates=[Candidate(therapist_id=therapist_id, rank=1, score=0.9)],
        expires_at=now + timedelta(days=2),
    )
    accepted = MatchAccepted(
        match_id=proposal.match_id, client_id=client_id, therapist_id=therapist_id, accepted_at=now
    )
    await publish(deployment, proposal, accepted)
    intro: dict[str, Any] = {}

    async def introduction_booked() -> bool:
        listing = httpx.get(f"{base}/v1/clients/{client_id}/sessions", headers=ADMIN).json()
        intro.update(next(iter(listing["sessions"]), {}))
        return bool(intro)

    await eventually(introduction_booked, timeout=90.0)  # two events through Kafka, on a busy machine
    starts = datetime.fromisoformat(intro["starts_at"])

    async def started() -> bool:
        return deployment.clock() >= starts

    await eventually(started, timeout=30.0)
    held = httpx.post(
        f"{base}/v1/sessions/{intro['session_id']}/attendance", json={"attendance": "held"}, headers=ADMIN
    )
    assert held.status_code == 200, held.text
    plan = TreatmentPlanUpdated(
        client_id=client_id,
        therapist_id=therapist_id,
        version=1,
        status="active",  # type: ignore[arg-type]
        approach="cbt",  # type: ignore[arg-type]
        session_cadence="weekly",  # type: ignore[arg-type]
        check_in_interval_days=14,
        updated_at=deployment.clock(),
    )
    await publish(deployment, plan)


async def test_fifty_concurrent_bookings_of_one_slot_over_two_replicas_book_it_once(
    deployment: Deployment,
) -> None:
    set_availability(deployment, "t-contended")
    starts = a_weekday_ahead(deployment, 3, 10)

    async def book(client: httpx.AsyncClient, n: int) -> int:
        # Admins booking for fifty clients the therapist was never proposed to (the
        # consent rules are the integration suite's; here the race is the point).
        booking = {
            "client_id": f"c-{n}",
            "therapist_id": "t-contended",
            "starts_at": starts.isoformat(),
            "override_reason": "contention_test",
        }
        answer = await client.post(
            f"{deployment.replicas[n % 2].base}/v1/sessions", json=booking, headers=ADMIN
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
    await in_care_with_a_plan(deployment, "c-check-in", "t-1")

    async def check_in_scheduled() -> bool:
        found = await db["timers"].find_one({"kind": "check-in", "payload.client_id": "c-check-in"})
        return found is not None

    await eventually(check_in_scheduled)
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
    fired = await db["timers_done"].find_one({"_id": timer["_id"]})
    assert fired is not None and fired["status"] == "fired"
