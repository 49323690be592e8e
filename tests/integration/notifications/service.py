"""The notifications service run in-process on the real broker and database, with real outside servers.

`running_notifications` starts a real SMTP server (aiosmtpd, through the local sinks'
`MailSink`) and a real HTTP SMS/push provider (`ProviderSink`, which checks the webhook
signature) on free ports, builds the app exactly as `python -m services.notifications`
does but with a `ManualClock`, starts its runtime in the test's event loop, and talks
HTTP to it through httpx's ASGI transport.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from pydantic import BaseModel, SecretStr

from deploy.local.sinks import MailSink, ProviderSink
from services.notifications.app import build_app
from services.notifications.settings import NotificationsSettings
from shared.http.auth import Role, mint_token
from shared.http.scopes import RECIPIENTS_CONTACT, RECIPIENTS_WRITE
from shared.messaging.broker import kafka_connection_options
from shared.security.field_encryption import EncryptionSettings, new_key
from shared.settings import AuthSettings, KafkaSettings, MongoSettings
from tests.support.fakes import ManualClock
from tests.support.infrastructure import free_port
from tests.support.kafka import event, eventually, publish_events
from tests.support.runtime import FAST_DEFAULTS, JUMPING_CLOCK_DEFAULTS
from tests.unit.notifications import samples

AUTH = AuthSettings(secret=SecretStr("notifications-integration-test-secret-of-enough-length"))
PROVIDER_SECRET = "provider-signing-secret-for-tests"
ROTA = ["oncall-1", "oncall-2"]


def bearer(subject: str, role: Role, scopes: tuple[str, ...] = ()) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(AUTH, subject=subject, role=role, scopes=scopes)}"}


ADMIN = bearer("admin-1", Role.admin)
SERVICE = bearer("platform-web", Role.service, (RECIPIENTS_WRITE, RECIPIENTS_CONTACT))
"""The platform's backend: registers recipients (their contact details) and sets their preferences."""


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class RunningNotifications:
    app: FastAPI
    http: httpx.AsyncClient
    settings: NotificationsSettings
    clock: ManualClock
    mail: MailSink
    provider: ProviderSink

    @property
    def kafka(self) -> KafkaSettings:
        return self.settings.kafka

    async def publish(self, data: BaseModel, **kwargs: Any) -> str:
        """Publish one event as its producer would; returns its event id."""
        outgoing = event(data, **kwargs)
        await publish_events(self.kafka, outgoing)
        return outgoing.envelope.id

    def mails_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.mail.messages if address in str(m["To"])]

    def texts_to(self, address: str, channel: str = "sms") -> list[dict[str, Any]]:
        return [m for m in self.provider.received if m["to"] == address and m["channel"] == channel]

    async def register(self, recipient_id: str, **details: Any) -> None:
        body = {"role": "client", "timezone": "America/New_York", **details}
        answer = await self.http.put(f"/v1/recipients/{recipient_id}", json=body, headers=SERVICE)
        assert answer.status_code == 200, answer.text

    async def prefer(self, recipient_id: str, **preferences: Any) -> None:
        answer = await self.http.put(
            f"/v1/recipients/{recipient_id}/preferences", json=preferences, headers=SERVICE
        )
        assert answer.status_code == 200, answer.text

    async def deliveries(self, recipient_id: str) -> list[dict[str, Any]]:
        answer = await self.http.get(f"/v1/recipients/{recipient_id}/deliveries?limit=100", headers=ADMIN)
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    async def recorded_delivery(self, recipient_id: str, channel: str, status: str) -> dict[str, Any]:
        """The recipient's delivery on `channel` once it is recorded as `status`.

        A provider accepts a message a moment before its outcome is written, so a test that saw the
        message arrive waits for the record too instead of reading it at once.
        """
        found: list[dict[str, Any]] = []

        async def recorded() -> bool:
            found[:] = [d for d in await self.deliveries(recipient_id) if d["channel"] == channel]
            return len(found) == 1 and found[0]["status"] == status

        await eventually(recorded, timeout=20.0, interval=0.1)
        return found[0]

    async def until(self, check: Callable[[], bool], *, advance: timedelta | None = None) -> None:
        """Wait until `check()` holds, moving the clock by `advance` at each look when given."""

        async def holds() -> bool:
            if check():
                return True
            if advance is not None:
                self.clock.advance(advance)
            return False

        await eventually(holds, timeout=20.0, interval=0.1)

    async def until_async(self, check: Callable[[], Awaitable[bool]]) -> None:
        await eventually(check, timeout=20.0, interval=0.1)

    async def published(self, name: str, key: str, *, settle: float = 1.0) -> list[dict[str, Any]]:
        """The values published on `name` with record key `key`: read until one came, then `settle` s more."""
        consumer = AIOKafkaConsumer(
            self.kafka.topic(name),
            **kafka_connection_options(self.kafka),
            group_id=f"reader-{uuid.uuid4().hex}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        found: list[dict[str, Any]] = []
        try:
            deadline = time.monotonic() + 20.0
            settle_until: float | None = None
            while time.monotonic() < deadline and (settle_until is None or time.monotonic() < settle_until):
                batch = await consumer.getmany(timeout_ms=200)
                found += [
                    json.loads(record.value)
                    for records in batch.values()
                    for record in records
                    if record.key == key.encode()
                ]
                if found and settle_until is None:
                    settle_until = time.monotonic() + settle
        finally:
            await consumer.stop()
        return found


@asynccontextmanager
async def running_notifications(
    kafka: KafkaSettings, mongo: MongoSettings, database: str
) -> AsyncIterator[RunningNotifications]:
    mail = MailSink()
    smtp_port = free_port()
    smtp = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    provider = ProviderSink(PROVIDER_SECRET).start()
    clock = ManualClock()
    settings = NotificationsSettings(
        kafka=kafka,
        mongo=mongo,
        mongodb_database=database,
        auth=AUTH,
        encryption=EncryptionSettings(keys=SecretStr(f"k1:{new_key()}"), active_key="k1"),
        consumers_per_topic=1,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        provider_webhook_url=provider.url,
        provider_signing_secret=SecretStr(PROVIDER_SECRET),
        on_call_rota=ROTA,
        delivery_retry_initial_seconds=5.0,
        critical_retry_initial_seconds=0.2,
        **FAST_DEFAULTS,
        **JUMPING_CLOCK_DEFAULTS,
    )
    app = build_app(settings, clock=clock)
    try:
        async with app.state.runtime:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://notifications") as http:
                yield RunningNotifications(app, http, settings, clock, mail, provider)
    finally:
        provider.stop()
        smtp.stop()


@dataclass(frozen=True)
class ClientWithInbox:
    client_id: str
    notification_id: str
    details: dict[str, Any]
    """What the client was registered with."""


async def client_with_inbox_entry(service: RunningNotifications) -> ClientWithInbox:
    """A registered client with one inbox entry: the crisis resources a risk flag sent them.

    Records for API-wide tests (fuzz, authorization matrix) to aim their path ids at.
    """
    client_id = new_id("client")
    details = {"role": "client", "timezone": "America/New_York", "email": f"{client_id}@example.org"}
    registered = await service.http.put(f"/v1/recipients/{client_id}", json=details, headers=ADMIN)
    assert registered.status_code == 200, registered.text
    await service.publish(samples.risk_flagged(client_id))
    inbox: list[dict[str, Any]] = []

    async def has_an_entry() -> bool:
        answer = await service.http.get(f"/v1/recipients/{client_id}/notifications", headers=ADMIN)
        inbox[:] = answer.json()["items"]
        return bool(inbox)

    await service.until_async(has_an_entry)
    return ClientWithInbox(client_id, inbox[0]["id"], details)
