"""The scheduling service run in-process on the real broker and database, for its integration tests.

`running_scheduling` builds the app exactly as `python -m services.scheduling` does, starts
its runtime (consumers, relay, timer worker) in the test's event loop and talks HTTP to
it through httpx's ASGI transport. Several replicas may share one topic prefix and
database (`replica` with the same settings); a `ManualClock` moves their time.

Events the tests publish as matching and intake would are stamped with that clock's time
(`ce_time`): the care relationships order what they fold by it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI
from pydantic import BaseModel, SecretStr

from services.scheduling.app import build_app
from services.scheduling.context import SchedulingContext
from services.scheduling.domain.care import Care
from services.scheduling.settings import SchedulingSettings
from services.scheduling.store.clients import load_care
from shared.events.common import Candidate, PlanStatus, SessionCadence, WeeklyWindow
from shared.events.envelope import OutgoingEvent
from shared.events.models import MatchAccepted, MatchProposed, TreatmentPlanUpdated
from shared.http.auth import Role, mint_token
from shared.messaging.broker import kafka_connection_options
from shared.settings import AuthSettings, KafkaSettings, MongoSettings
from tests.support.fakes import ManualClock
from tests.support.kafka import event, eventually, publish_events, read_records
from tests.support.runtime import FAST_DEFAULTS, JUMPING_CLOCK_DEFAULTS

AUTH = AuthSettings(secret=SecretStr("scheduling-integration-test-secret-long-enough"))


def scheduling_settings(kafka: KafkaSettings, mongo: MongoSettings, database: str) -> SchedulingSettings:
    return SchedulingSettings(
        kafka=kafka,
        mongo=mongo,
        mongodb_database=database,
        auth=AUTH,
        consumers_per_topic=1,
        **FAST_DEFAULTS,
        **JUMPING_CLOCK_DEFAULTS,
    )


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def bearer(subject: str, role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(AUTH, subject=subject, role=role)}"}


ADMIN = bearer("admin-1", Role.admin)


def weekdays(
    timezone: str = "America/New_York", start: str = "09:00", end: str = "17:00", **extra: Any
) -> dict[str, Any]:
    days = ["monday", "tuesday", "wednesday", "thursday", "friday"]
    return {"timezone": timezone, "weekly": [{"day": d, "start": start, "end": end} for d in days], **extra}


@dataclass
class RunningScheduling:
    app: FastAPI
    http: httpx.AsyncClient
    settings: SchedulingSettings
    clock: ManualClock

    @property
    def kafka(self) -> KafkaSettings:
        return self.settings.kafka

    async def records(
        self, event: str, *, expect: int, settle: float = 0.0, timeout: float = 30.0
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """The records on `event`'s topic (until `expect` arrived or `timeout`, then `settle` s more)."""
        topic = self.kafka.topic(event)
        return await read_records(self.kafka, topic, expect=expect, settle=settle, timeout=timeout)

    async def records_for(
        self, event: str, key: str, *, expect: int, settle: float = 0.0, timeout: float = 30.0
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """The records on `event`'s topic keyed `key` (a client): until `expect` came, then `settle` s more.

        The module's tests share one service, so its topics carry other tests' events too.
        """
        consumer = AIOKafkaConsumer(
            **kafka_connection_options(self.kafka),
            group_id=f"reader-{uuid.uuid4().hex}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        consumer.subscribe([self.kafka.topic(event)])
        await consumer.start()
        found: list[ConsumerRecord[bytes, bytes]] = []
        try:
            deadline = time.monotonic() + timeout
            settled_at: float | None = None
            while time.monotonic() < deadline and (settled_at is None or time.monotonic() < settled_at):
                for part in (await consumer.getmany(timeout_ms=300)).values():
                    found.extend(r for r in part if r.key == key.encode())
                if len(found) >= expect and settled_at is None:
                    settled_at = time.monotonic() + settle
        finally:
            await consumer.stop()
        return found

    async def set_availability(self, therapist_id: str, spec: dict[str, Any]) -> None:
        answer = await self.http.put(f"/v1/therapists/{therapist_id}/availability", json=spec, headers=ADMIN)
        assert answer.status_code == 200, answer.text

    async def care(self, client_id: str) -> Care | None:
        """The client's care record as the service stored it."""
        context: SchedulingContext = self.app.state.context
        return await load_care(context, client_id)

    async def publish(self, data: BaseModel) -> OutgoingEvent:
        """Publish `data` as its producer would, now on the service's clock."""
        outgoing = event(data, now=self.clock.now)
        await publish_events(self.kafka, outgoing)
        return outgoing

    async def until(self, client_id: str, check: Any) -> Care:
        """Wait until the client's care record satisfies `check(care)`; return it."""
        found: list[Care] = []

        async def holds() -> bool:
            care = await self.care(client_id)
            if care is not None and check(care):
                found.append(care)
                return True
            return False

        await eventually(holds)
        return found[-1]

    async def propose(
        self,
        client_id: str,
        therapist_ids: list[str],
        *,
        match_id: str | None = None,
        windows: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri"),
    ) -> MatchProposed:
        """Matching proposes `therapist_ids` (client in UTC, weekdays 08:00-18:00); wait until kept."""
        proposed = MatchProposed(
            match_id=match_id or new_id("match"),
            client_id=client_id,
            intake_id=new_id("intake"),
            candidates=[
                Candidate(therapist_id=t, rank=i + 1, score=0.9 - i / 10) for i, t in enumerate(therapist_ids)
            ],
            expires_at=self.clock.now + timedelta(days=2),
            timezone="UTC",
            availability=[WeeklyWindow(day=d, start="08:00", end="18:00") for d in windows],  # type: ignore[arg-type]
        )
        await self.publish(proposed)
        await self.until(client_id, lambda care: care.proposal(proposed.match_id) is not None)
        return proposed

    async def accept(self, proposed: MatchProposed, therapist_id: str) -> OutgoingEvent:
        """The client accepts `therapist_id` (matching's `match-accepted`)."""
        accepted = MatchAccepted(
            match_id=proposed.match_id,
            client_id=proposed.client_id,
            therapist_id=therapist_id,
            accepted_at=self.clock.now,
        )
        return await self.publish(accepted)

    async def plan(
        self,
        client_id: str,
        therapist_id: str,
        *,
        version: int,
        status: PlanStatus = PlanStatus.active,
        cadence: SessionCadence = SessionCadence.weekly,
        interval: int = 14,
    ) -> TreatmentPlanUpdated:
        """Intake publishes a plan version; wait until scheduling kept it."""
        update = TreatmentPlanUpdated(
            client_id=client_id,
            therapist_id=therapist_id,
            version=version,
            status=status,
            approach="cbt",  # type: ignore[arg-type]
            session_cadence=cadence,
            check_in_interval_days=interval,
            updated_at=self.clock.now,
        )
        await self.publish(update)
        await self.until(client_id, lambda care: care.plan is not None and care.plan.version >= version)
        return update

    async def attend(self, session_id: str, attendance: str, who: dict[str, str]) -> httpx.Response:
        return await self.http.post(
            f"/v1/sessions/{session_id}/attendance", json={"attendance": attendance}, headers=who
        )


@asynccontextmanager
async def running_scheduling(
    settings: SchedulingSettings, clock: ManualClock | None = None
) -> AsyncIterator[RunningScheduling]:
    clock = clock or ManualClock(datetime.now(UTC))
    app = build_app(settings, clock=clock)
    async with app.state.runtime:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://scheduling") as http:
            yield RunningScheduling(app=app, http=http, settings=settings, clock=clock)


@asynccontextmanager
async def running_replicas(
    settings: SchedulingSettings, clock: ManualClock, count: int = 2
) -> AsyncIterator[list[RunningScheduling]]:
    """`count` replicas on one topic prefix and database, started side by side."""
    async with AsyncExitStack() as stack:
        replicas = await asyncio.gather(
            *(stack.enter_async_context(running_scheduling(settings, clock)) for _ in range(count))
        )
        yield list(replicas)


def value_of(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(record.value)
    return loaded


def a_weekday_at(clock: ManualClock, days_ahead: int, hour_utc: int) -> datetime:
    """The first Tuesday–Thursday at least `days_ahead` away, at `hour_utc`:00 UTC."""
    day = (clock.now + timedelta(days=days_ahead)).replace(hour=hour_utc, minute=0, second=0, microsecond=0)
    while day.weekday() not in (1, 2, 3):
        day += timedelta(days=1)
    return day


async def start_care(service: RunningScheduling) -> tuple[str, datetime]:
    """A new client in care with a new therapist, their plan written: check-ins begin.

    Matching proposes the therapist, the client books one of their slots, the therapist
    records the introduction held, intake publishes the plan. Returns the client and when
    the plan was written (the first check-in falls due 14 days later). The clock moves to
    the introduction.
    """
    therapist, client = new_id("t"), new_id("c")
    await service.set_availability(therapist, weekdays("UTC"))
    await service.propose(client, [therapist])
    starts = a_weekday_at(service.clock, 3, 10)
    answer = await service.http.post(
        "/v1/sessions",
        json={"client_id": client, "therapist_id": therapist, "starts_at": starts.isoformat()},
        headers=bearer(client, Role.client),
    )
    assert answer.status_code == 201, answer.text
    service.clock.now = starts + timedelta(minutes=5)
    held = await service.attend(answer.json()["session_id"], "held", bearer(therapist, Role.clinician))
    assert held.status_code == 200, held.text
    written = service.clock.now
    await service.plan(client, therapist, version=1)
    await service.until(client, lambda care: care.check_ins is not None)
    return client, written


def due_on(record: ConsumerRecord[bytes, bytes]) -> datetime:
    return datetime.fromisoformat(value_of(record)["due_at"]).astimezone(UTC)


@dataclass(frozen=True)
class BookedClient:
    """A therapist with availability, a client proposed to them with a session booked, the client's feed."""

    client_id: str
    therapist_id: str
    session_id: str
    feed_id: str
    token: str  # the feed's secret token


async def booked_client(service: RunningScheduling) -> BookedClient:
    """Records for API-wide tests (fuzz, authorization matrix) to aim their path ids at."""
    therapist_id, client_id = new_id("t"), new_id("c")
    await service.set_availability(therapist_id, weekdays("UTC"))
    await service.propose(client_id, [therapist_id])
    starts = a_weekday_at(service.clock, 3, 10)
    booked = await service.http.post(
        "/v1/sessions",
        json={"client_id": client_id, "therapist_id": therapist_id, "starts_at": starts.isoformat()},
        headers=bearer(client_id, Role.client),
    )
    assert booked.status_code == 201, booked.text
    feed = await service.http.post(f"/v1/clients/{client_id}/calendar-feeds", headers=ADMIN)
    assert feed.status_code == 201, feed.text
    token = urlsplit(feed.json()["url"]).path.removeprefix("/v1/calendar-feeds/").removesuffix(".ics")
    return BookedClient(client_id, therapist_id, booked.json()["session_id"], feed.json()["feed_id"], token)
