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
from pydantic import BaseModel, SecretStr
from pymongo import AsyncMongoClient

from services.intake.app import build_app
from services.intake.settings import IntakeSettings
from shared.events.envelope import OutgoingEvent
from shared.events.models import CheckInDue
from shared.http.auth import Role, mint_token
from shared.security.field_encryption import EncryptionSettings
from shared.settings import AuthSettings, KafkaSettings, MongoSettings
from tests.support.kafka import event, eventually, publish_events, read_records
from tests.support.runtime import FAST_DEFAULTS
from tests.unit.intake import samples

AUTH = AuthSettings(secret=SecretStr("intake-integration-test-secret-of-enough-length"))

CHECK_IN_EXPIRY = timedelta(seconds=2)
"""Short, so a check-in due now expires during a test; check-ins due tomorrow stay open."""


def intake_settings(kafka: KafkaSettings, mongo: MongoSettings, database: str) -> IntakeSettings:
    keys = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
    return IntakeSettings(
        kafka=kafka,
        mongo=mongo,
        mongodb_database=database,
        auth=AUTH,
        encryption=EncryptionSettings(keys=SecretStr(keys), active_key="k1"),
        consumers_per_topic=1,
        check_in_expiry_days=CHECK_IN_EXPIRY / timedelta(days=1),
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


def due(
    client_id: str, therapist_id: str, check_in_id: str, journey: str, *, due_at: datetime | None = None
) -> OutgoingEvent:
    data = CheckInDue(
        check_in_id=check_in_id,
        client_id=client_id,
        therapist_id=therapist_id,
        due_at=due_at or datetime.now(UTC) + timedelta(days=1),
        instruments=["phq9", "gad7"],
    )
    return event(data, correlation_id=journey)


async def relate(intake: RunningIntake, *events: BaseModel) -> None:
    """Publish care relationship events (matching's, scheduling's), each stamped now."""
    await publish_events(intake.kafka, *(event(data) for data in events))


async def handled(intake: RunningIntake, mongo: AsyncMongoClient[Any], *events: BaseModel) -> None:
    """Publish events that change nothing visible (a no-show) and wait until the service handled them.

    The consumer records each handled event id in its inbox (DESIGN §4), so that is what tells.
    """
    outgoing = [event(data) for data in events]
    await publish_events(intake.kafka, *outgoing)
    inbox = mongo[intake.settings.database_name]["inbox"]

    async def all_handled() -> bool:
        keys = [f"{intake.settings.group_id}/{e.envelope.id}" for e in outgoing]
        return all([await inbox.find_one({"_id": key}) is not None for key in keys])

    await eventually(all_handled)


async def answers_with(intake: RunningIntake, status: int, path: str, headers: dict[str, str]) -> None:
    """Wait until GET `path` answers `status`: the events before it were handled."""

    async def answered() -> bool:
        return (await intake.http.get(path, headers=headers)).status_code == status

    await eventually(answered)


async def chosen(intake: RunningIntake, client_id: str, therapist_id: str) -> None:
    """Matching proposed `therapist_id` and the client accepted: the therapist reads the record."""
    await relate(intake, samples.proposed(client_id, therapist_id), samples.accepted(client_id, therapist_id))
    await answers_with(intake, 200, f"/v1/clients/{client_id}/intakes", bearer(therapist_id, Role.clinician))


async def in_care(intake: RunningIntake, client_id: str, therapist_id: str) -> None:
    """Chosen, and the introduction held: the therapist writes the plan."""
    await chosen(intake, client_id, therapist_id)
    await relate(intake, samples.attended(client_id, therapist_id, "held"))
    await answers_with(
        intake, 200, f"/v1/clients/{client_id}/treatment-plan/draft", bearer(therapist_id, Role.clinician)
    )


async def pending_check_in(intake: RunningIntake, client_id: str, check_in_id: str) -> None:
    async def listed() -> bool:
        found = await intake.http.get(f"/v1/clients/{client_id}/check-ins", headers=as_client(client_id))
        return check_in_id in [c["id"] for c in found.json()]

    await eventually(listed)
