"""E-mail over kept SMTP connections, against a real SMTP server (aiosmtpd, the local sinks' `MailSink`).

Several e-mails share a connection and arrive complete; a connection the server dropped is
replaced and its e-mail delivered once; one lost after the message went is not retried (no
second copy); 5xx replies are permanent, 4xx and connection trouble transient; the
connections are closed when the sender, or the whole service, stops.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from deploy.local.sinks import MailSink
from services.notifications.app import build_app
from services.notifications.channels import Attachment, DeliveryFailure, Outbound
from services.notifications.channels.smtp import SmtpConfig, SmtpSender
from services.notifications.settings import NotificationsSettings
from shared.security.field_encryption import EncryptionSettings, new_key
from tests.integration.notifications.service import AUTH, SERVICE
from tests.support.fakes import ManualClock
from tests.support.infrastructure import Infrastructure, free_port
from tests.support.isolation import isolated_place
from tests.support.kafka import event, eventually, publish_events
from tests.support.runtime import FAST_DEFAULTS, JUMPING_CLOCK_DEFAULTS
from tests.unit.notifications import samples
from tests.unit.notifications.test_channels import outbound

SENDER = "no-reply@carepath.test"
ICS = Attachment("session.ics", "text/calendar; method=PUBLISH", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")


class WatchedMailSink(MailSink):
    """The local sink, telling which connection each transaction came over, and able to misbehave."""

    def __init__(self) -> None:
        super().__init__()
        self.mail_peers: list[Any] = []  # the client's address and port at each MAIL
        self.data_peers: list[Any] = []  # ... at each message accepted
        self.quits = 0
        self.drop_at_next_mail = False
        self.drop_after_next_data = False
        self.data_reply: str | None = None

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        self.mail_peers.append(session.peer)
        if self.drop_at_next_mail:  # the server went away (a restart, an idle limit) before answering
            self.drop_at_next_mail = False
            server.transport.close()
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            return self.data_reply
        status = await super().handle_DATA(server, session, envelope)
        self.data_peers.append(session.peer)
        if self.drop_after_next_data:  # accepted, but the answer never reaches the client
            self.drop_after_next_data = False
            server.transport.close()
        return status

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"

    def received(self, delivery_id: str) -> int:
        return sum(1 for message in self.messages if delivery_id in str(message["X-Carepath-Notification"]))


@pytest.fixture
def sink() -> Iterator[tuple[WatchedMailSink, int]]:
    mail = WatchedMailSink()
    port = free_port()
    controller = Controller(mail, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mail, port
    finally:
        controller.stop()


def sender_to(port: int, **changes: Any) -> SmtpSender:
    config = SmtpConfig(
        "127.0.0.1", port, "none", None, None, True, SENDER, 5.0, local_hostname="carepath.test"
    )
    return SmtpSender(replace(config, **changes))


def email(number: int, **changes: Any) -> Outbound:
    return outbound(delivery_id=f"event-{number}:client-1:email", notification_id=f"n-{number}", **changes)


async def test_several_emails_go_over_one_connection_and_arrive_complete(
    sink: tuple[WatchedMailSink, int],
) -> None:
    mail, port = sink
    sender = sender_to(port)

    for number in range(3):
        await sender.send(email(number, attachments=(ICS,)))

    assert len(mail.messages) == 3 and len(set(mail.data_peers)) == 1
    for number, message in enumerate(mail.messages):
        assert message["X-Carepath-Notification"] == f"n-{number}"
        assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
        (calendar,) = message.iter_attachments()
        assert calendar.get_payload(decode=True) == ICS.data
    assert sender.open_connections == 1
    await sender.close()


async def test_emails_sent_at_once_use_at_most_the_configured_connections(
    sink: tuple[WatchedMailSink, int],
) -> None:
    mail, port = sink
    sender = sender_to(port, connections=2)

    await asyncio.gather(*(sender.send(email(number)) for number in range(6)))

    assert sorted(str(m["X-Carepath-Notification"]) for m in mail.messages) == [f"n-{n}" for n in range(6)]
    assert len(set(mail.data_peers)) <= 2
    await sender.close()


async def test_a_connection_the_server_dropped_is_replaced_and_the_email_delivered_once(
    sink: tuple[WatchedMailSink, int],
) -> None:
    mail, port = sink
    sender = sender_to(port)
    await sender.send(email(1))

    mail.drop_at_next_mail = True
    await sender.send(email(2))

    assert mail.received("n-2") == 1
    assert len(set(mail.mail_peers)) == 2  # the kept connection, then a new one
    await sender.close()


async def test_a_connection_lost_once_the_message_went_is_not_retried(
    sink: tuple[WatchedMailSink, int],
) -> None:
    mail, port = sink
    sender = sender_to(port)

    mail.drop_after_next_data = True
    with pytest.raises(DeliveryFailure) as failure:
        await sender.send(email(1))
    await sender.send(email(2))

    assert failure.value.transient  # the delivery's retry decides, with the same Message-ID
    assert (mail.received("n-1"), mail.received("n-2")) == (1, 1)
    await sender.close()


@pytest.mark.parametrize(
    ("refusal", "reason", "transient"),
    [("rcpt 550", "smtp_550", False), ("rcpt 450", "smtp_450", True), ("data 552", "smtp_552", False)],
)
async def test_a_5xx_reply_is_permanent_a_4xx_transient_and_the_connection_is_kept(
    sink: tuple[WatchedMailSink, int], refusal: str, reason: str, transient: bool
) -> None:
    mail, port = sink
    sender = sender_to(port)
    await sender.send(email(1))
    command, code = refusal.split()
    refused = "refused@example.org"
    if command == "rcpt":
        mail.refuse(refused, int(code))
    else:
        mail.data_reply = f"{code} 5.3.4 message too big"

    with pytest.raises(DeliveryFailure) as failure:
        await sender.send(email(2, address=refused))
    mail.data_reply = None
    await sender.send(email(3))

    assert (failure.value.reason, failure.value.transient) == (reason, transient)
    assert "@" not in failure.value.reason
    assert len(set(mail.mail_peers)) == 1
    await sender.close()


async def test_a_server_that_cannot_be_reached_is_a_transient_failure() -> None:
    sender = sender_to(free_port())  # nothing listens there

    with pytest.raises(DeliveryFailure) as failure:
        await sender.send(email(1))

    assert failure.value.transient


async def test_a_connection_idle_too_long_is_replaced(sink: tuple[WatchedMailSink, int]) -> None:
    mail, port = sink
    now = [1000.0]
    config = SmtpConfig("127.0.0.1", port, "none", None, None, True, SENDER, 5.0, idle_seconds=30.0)
    sender = SmtpSender(config, monotonic=lambda: now[0])
    await sender.send(email(1))
    now[0] += 29.0
    await sender.send(email(2))
    now[0] += 31.0

    await sender.send(email(3))

    assert mail.data_peers[0] == mail.data_peers[1] != mail.data_peers[2]
    await sender.close()


async def test_closing_the_sender_quits_its_connections(sink: tuple[WatchedMailSink, int]) -> None:
    mail, port = sink
    sender = sender_to(port, connections=2)
    await asyncio.gather(sender.send(email(1)), sender.send(email(2)))
    kept = sender.open_connections

    await sender.close()

    assert kept >= 1 and mail.quits == kept
    assert sender.open_connections == 0


async def test_the_service_closes_its_smtp_connections_when_it_stops(
    sink: tuple[WatchedMailSink, int], infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> None:
    mail, port = sink
    client_id = f"client-{uuid.uuid4().hex[:8]}"
    async with isolated_place(infrastructure, mongo_client, "notifications_smtp") as place:
        settings = NotificationsSettings(
            kafka=place.kafka,
            mongo=place.mongo,
            mongodb_database=place.database,
            auth=AUTH,
            encryption=EncryptionSettings(keys=SecretStr(f"k1:{new_key()}"), active_key="k1"),
            consumers_per_topic=1,
            smtp_host="127.0.0.1",
            smtp_port=port,
            on_call_rota=["oncall-1"],
            **FAST_DEFAULTS,
            **JUMPING_CLOCK_DEFAULTS,
        )
        app = build_app(settings, clock=ManualClock())
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://notifications") as http:
                body = {"role": "client", "timezone": "America/New_York", "email": f"{client_id}@example.org"}
                answer = await http.put(f"/v1/recipients/{client_id}", json=body, headers=SERVICE)
                assert answer.status_code == 200, answer.text
            await publish_events(settings.kafka, event(samples.risk_flagged(client_id)))

            async def mailed() -> bool:
                return any(client_id in str(message["To"]) for message in mail.messages)

            await eventually(mailed, timeout=20.0, interval=0.1)
            assert mail.quits == 0  # the connection is kept while the service runs

    assert mail.quits == len(set(mail.mail_peers)) >= 1
