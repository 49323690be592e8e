"""A check-in timer fires after the replica holding its lease is killed (`kill -9`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from shared.http.auth import Role
from shared.settings import KafkaSettings
from shared.storage.locks import Locks
from shared.storage.timers import TimerStore
from tests.e2e.scheduling.processes import bearer, scheduling_replicas
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import eventually, read_records


async def test_a_check_in_timer_fires_after_the_replica_holding_its_lease_is_killed(
    infrastructure: Infrastructure, kafka_settings: KafkaSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    locks = Locks(mongo_db["locks"])
    # A stuck handler waits for the client's record longer than the test needs.
    with scheduling_replicas(
        infrastructure, kafka_settings, mongo_db.name, SCHEDULING_DOCUMENT_LEASE_WAIT_SECONDS="60"
    ) as replicas:
        weekly = [{"day": d, "start": "09:00", "end": "17:00"} for d in ("tuesday", "wednesday", "thursday")]
        admin = bearer("admin", Role.admin)
        put = httpx.put(
            f"{replicas[0].base}/v1/therapists/t-1/availability",
            json={"timezone": "UTC", "weekly": weekly},
            headers=admin,
        )
        assert put.status_code == 200, put.text
        starts = (datetime.now(UTC) + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
        while starts.weekday() not in (1, 2, 3):
            starts += timedelta(days=1)
        booked = httpx.post(
            f"{replicas[0].base}/v1/sessions",
            json={"client_id": "c-1", "therapist_id": "t-1", "starts_at": starts.isoformat()},
            headers=bearer("c-1", Role.client),
        )
        assert booked.status_code == 201, booked.text
        timer = await mongo_db["timers"].find_one({"kind": "check-in", "status": "pending"})
        assert timer is not None and timer["payload"]["client_id"] == "c-1"

        # Hold the client's record, so whichever replica claims the timer is caught mid-firing,
        # then make the check-in due now.
        record = await locks.acquire("clients/c-1", "e2e-test", timedelta(seconds=120))
        await TimerStore(mongo_db["timers"], locks, owner="e2e-test").reschedule(
            timer["_id"], datetime.now(UTC)
        )

        async def claimed() -> bool:
            return await mongo_db["locks"].find_one({"_id": f"timers/{timer['_id']}"}) is not None

        await eventually(claimed)
        lease = await mongo_db["locks"].find_one({"_id": f"timers/{timer['_id']}"})
        assert lease is not None
        holder_pid = int(lease["owner"].rsplit(":", 2)[1])
        [holder] = [r for r in replicas if r.process.pid == holder_pid]
        holder.process.kill()  # SIGKILL: no shutdown, the lease stays behind
        holder.process.wait()
        await locks.release(record)

        [due] = await read_records(
            kafka_settings, kafka_settings.topic("check-in-due"), expect=1, timeout=45, settle=1.0
        )

    assert due.key == b"c-1"
    fired = await mongo_db["timers"].find_one({"_id": timer["_id"]})
    assert fired is not None and fired["status"] == "fired"
