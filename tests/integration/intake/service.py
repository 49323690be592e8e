"""The intake service run in-process on the real broker and database, for its integration tests.

`running_intake` builds the app exactly as `python -m services.intake` does, starts its
runtime (consumers, relay) in the test's event loop, and talks HTTP to it through
httpx's ASGI transport. Each run gets its own topic prefix and database.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI
from pydantic import SecretStr

from services.intake.app import build_app
from services.intake.settings import IntakeSettings
from shared.events.common import SessionFormat
from shared.events.envelope import OutgoingEvent
from shared.events.models import CheckInDue, SessionBooked
from shared.http.auth import Role, mint_token
from shared.security.field_encryption import EncryptionSettings
from shared.settings import AuthSettings, KafkaSettings, MongoSettings
from tests.support.kafka import event, eventually, read_records
from tests.support.runtime import FAST_DEFAULTS

AUTH = AuthSettings(secret=SecretStr("intake-integration-test-secret-of-enough-length"))


def intake_settings(kafka: KafkaSettings, mongo: MongoSettings, database: str) -> IntakeSettings:
    keys = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
    return IntakeSettings(
        kafka=kafka,
        mongo=mongo,
        mongodb_database=database,
        auth=AUTH,
        encryption=EncryptionSettings(keys=SecretStr(keys), active_key="k1"),
        consumers_per_topic=1,
        **FAST_DEFAULTS,
    )


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def bearer(subject: str, role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(AUTH, subject=subject, role=role)}"}


def as_client(client_id: str) -> dict[str, str]:
    return bearer(client_id, Role.client)


ADMIN = bearer("admin-1", Role.admin)


@dataclass
class RunningIntake:
    app: FastAPI
    http: httpx.AsyncClient
    settings: IntakeSettings

    @property
    def kafka(self) -> KafkaSettings:
        return self.settings.kafka

    async def records(
        self, event: str, *, expect: int, settle: float = 0.0
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """The records on `event`'s topic (reads until `expect` arrived, then `settle` seconds more)."""
        return await read_records(self.kafka, self.kafka.topic(event), expect=expect, settle=settle)


@asynccontextmanager
async def running_intake(
    kafka: KafkaSettings, mongo: MongoSettings, database: str
) -> AsyncIterator[RunningIntake]:
    settings = intake_settings(kafka, mongo, database)
    app = build_app(settings)
    async with app.state.runtime:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            yield RunningIntake(app=app, http=http, settings=settings)


def headers_of(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    return {key: value.decode() for key, value in record.headers}


def value_of(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(record.value)
    return loaded


def booked(client_id: str, therapist_id: str) -> SessionBooked:
    starts = datetime.now(UTC) + timedelta(days=2)
    return SessionBooked(
        session_id=new_id("session"),
        client_id=client_id,
        therapist_id=therapist_id,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=50),
        timezone="America/Los_Angeles",
        format=SessionFormat.video,
        series_id="series-1",
        sequence=1,
        join_url="https://meet.example/s",
    )


def due(client_id: str, therapist_id: str, check_in_id: str, journey: str) -> OutgoingEvent:
    data = CheckInDue(
        check_in_id=check_in_id,
        client_id=client_id,
        therapist_id=therapist_id,
        due_at=datetime.now(UTC) + timedelta(days=1),
        instruments=["phq9", "gad7"],
    )
    return event(data, correlation_id=journey)


async def pending_check_in(intake: RunningIntake, client_id: str, check_in_id: str) -> None:
    async def listed() -> bool:
        found = await intake.http.get(f"/v1/clients/{client_id}/check-ins", headers=as_client(client_id))
        return check_in_id in [c["id"] for c in found.json()]

    await eventually(listed)
