"""The matching service run in-process on the real broker and database, for its integration tests.

`running_matching` builds the app exactly as `python -m services.matching` does, runs its
lifespan (the runtime's consumers, relay and timers; the directory's load) in the test's
event loop, talks HTTP to it through httpx's ASGI transport, and records what it
publishes. One service serves the tests of a test process; each test stays independent by
placing its therapists and clients in a jurisdiction of its own (`Place`), which no other
test's intake can be licensed for.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import string
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import patch

import httpx
from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI
from pydantic import SecretStr

from services.matching.app import build_app
from services.matching.settings import MatchingSettings
from shared.events.envelope import OutgoingEvent
from shared.http.auth import Role, mint_token
from shared.settings import AuthSettings, KafkaSettings, MongoSettings
from tests.support.kafka import TopicRecorder, event, publish_events
from tests.support.runtime import FAST_DEFAULTS
from tests.unit.matching.builders import intake, profile

AUTH = AuthSettings(secret=SecretStr("matching-integration-test-secret-of-enough-length"))
PRODUCED = ("match-proposed", "match-accepted", "match-declined")


def matching_settings(
    kafka: KafkaSettings, mongo: MongoSettings, database: str, **overrides: Any
) -> MatchingSettings:
    return MatchingSettings(
        kafka=kafka,
        mongo=mongo,
        mongodb_database=database,
        auth=AUTH,
        consumers_per_topic=1,
        **(FAST_DEFAULTS | overrides),
    )


def bearer(subject: str, role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(AUTH, subject=subject, role=role)}"}


ADMIN = bearer("admin-1", Role.admin)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Place:
    """A jurisdiction of one test's own: its therapists are licensed nowhere else."""

    jurisdiction: str = field(
        default_factory=lambda: (
            "X"
            + random.choice(string.ascii_uppercase)
            + "-"
            + "".join(random.choices(string.ascii_uppercase + string.digits, k=3))
        )
    )

    def therapist(self, **overrides: Any) -> dict[str, Any]:
        return profile(licensed_jurisdictions=[self.jurisdiction], **overrides).model_dump(mode="json")

    def intake(self, **overrides: Any) -> Any:
        fields = {
            "intake_id": new_id("intake"),
            "client_id": new_id("client"),
            "jurisdiction": self.jurisdiction,
        }
        return intake(**(fields | overrides))


class Recorder(TopicRecorder):
    """Every record the service publishes (match-*), collected in the background."""

    def __init__(self, kafka: KafkaSettings) -> None:
        super().__init__(kafka, PRODUCED)

    def of(self, name: str, client_id: str) -> list[dict[str, Any]]:
        """Values of `name` records about `client_id`, in the order they were read."""
        topic = self._kafka.topic(name)
        found = [json.loads(r.value) for r in self.records if r.topic == topic]
        return [value for value in found if value["client_id"] == client_id]

    def records_of(self, name: str, client_id: str) -> list[ConsumerRecord[bytes, bytes]]:
        topic = self._kafka.topic(name)
        return [r for r in self.records if r.topic == topic and json.loads(r.value)["client_id"] == client_id]

    async def wait_for(
        self, name: str, client_id: str, count: int = 1, *, timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(found := self.of(name, client_id)) >= count:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"{count} {name} for {client_id} not published within {timeout} s")


@dataclass
class RunningMatching:
    app: FastAPI
    http: httpx.AsyncClient
    settings: MatchingSettings
    published: Recorder

    @property
    def kafka(self) -> KafkaSettings:
        return self.settings.kafka

    async def publish(self, *events: Any, correlation_id: str | None = None) -> list[OutgoingEvent]:
        outgoing = [event(data, correlation_id=correlation_id) for data in events]
        await publish_events(self.kafka, *outgoing)
        return outgoing

    async def put_therapists(self, place: Place, *specs: tuple[str, dict[str, Any]]) -> None:
        for therapist_id, overrides in specs:
            answer = await self.http.put(
                f"/v1/therapists/{therapist_id}", json=place.therapist(**overrides), headers=ADMIN
            )
            assert answer.status_code in (200, 201), answer.text

    async def propose(self, place: Place, **intake_fields: Any) -> tuple[Any, dict[str, Any]]:
        """Publish an intake in `place`; its proposal once published."""
        data = place.intake(**intake_fields)
        await self.publish(data)
        (proposal,) = await self.published.wait_for("match-proposed", data.client_id)
        return data, proposal


@asynccontextmanager
async def running_matching(
    kafka: KafkaSettings, mongo: MongoSettings, database: str, **overrides: Any
) -> AsyncIterator[RunningMatching]:
    settings = matching_settings(kafka, mongo, database, **overrides)
    # Every test of the process acts as the one ADMIN: the per-principal limit (unit-tested
    # in tests/unit/shared/test_rate_limits.py) would refuse the faster runs with 429.
    with patch.dict(os.environ, {"MATCHING_RATE_LIMIT_PER_MINUTE": "0"}):
        app = build_app(settings)
    async with app.router.lifespan_context(app):  # the runtime, and the directory loaded at start
        recorder = Recorder(kafka)
        await recorder.start()
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://matching") as http:
                yield RunningMatching(app=app, http=http, settings=settings, published=recorder)
        finally:
            await recorder.stop()


def candidate_ids(proposal: dict[str, Any]) -> list[str]:
    return [c["therapist_id"] for c in proposal["candidates"]]
