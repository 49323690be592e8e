"""Channel adapters: the e-mail's parts, the webhook signed and classified.

SMTP replies are classified against a real SMTP server:
tests/integration/notifications/test_email_connections.py.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from deploy.local.sinks import verify
from services.notifications.channels import Attachment, DeliveryFailure, Outbound
from services.notifications.channels.smtp import build_email
from services.notifications.channels.webhook import ProviderConfig, WebhookSender, signed_headers
from services.notifications.domain.messages import Audience, MessageKind, crisis_context
from services.notifications.rendering import Renderer
from shared.care.crisis_resources import crisis_resources

MESSAGE = Renderer(app_url="https://app.example").render(
    MessageKind.crisis_resources,
    Audience.client,
    context=crisis_context(crisis_resources("US-NY"), "en"),
    locale="en",
    zone="UTC",
    channel="email",
)
SECRET = "provider-secret"


def outbound(channel: str = "email", address: str = "ana@example.org", **changes: Any) -> Outbound:
    fields: dict[str, Any] = {
        "delivery_id": "event-1:client-1:" + channel,
        "notification_id": "event-1:client-1:" + channel,
        "recipient_id": "client-1",
        "channel": channel,
        "address": address,
        "kind": "crisis_resources",
        "critical": True,
        "message": MESSAGE,
        **changes,
    }
    return Outbound(**fields)


def test_an_email_has_a_text_and_an_html_part_the_calendar_and_a_stable_message_id() -> None:
    ics = Attachment("session.ics", "text/calendar; method=PUBLISH", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    email = build_email(outbound(attachments=(ics,)), "no-reply@carepath.test")

    assert email.get_body(("plain",)) is not None and email.get_body(("html",)) is not None
    (attachment,) = list(email.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "PUBLISH"
    assert email["Message-ID"] == build_email(outbound(), "no-reply@carepath.test")["Message-ID"]
    assert email["Importance"] == "high"


def test_a_signed_request_verifies_and_a_tampered_or_stale_one_does_not() -> None:
    body = b'{"to":"+15550001111"}'
    headers = signed_headers(SECRET, body, now=1_000_000)

    assert verify(SECRET, headers, body, now=1_000_010)
    assert not verify(SECRET, headers, body + b" ", now=1_000_010)
    assert not verify("another-secret", headers, body, now=1_000_010)
    assert not verify(SECRET, headers, body, now=1_000_000 + 3600)


def provider_answering(status: int, seen: list[httpx.Request]) -> WebhookSender:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status)

    return WebhookSender(
        ProviderConfig("https://provider.test/messages", SECRET, 1.0), transport=httpx.MockTransport(answer)
    )


async def test_the_webhook_sends_a_signed_minimal_message_with_an_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    await provider_answering(202, seen).send(outbound("sms", "+15550001111"))

    (request,) = seen
    assert verify(SECRET, dict(request.headers), request.content)
    assert request.headers["Idempotency-Key"] == "event-1:client-1:sms"
    assert set(json.loads(request.content)) == {
        "notification_id",
        "channel",
        "to",
        "text",
        "locale",
        "priority",
    }


@pytest.mark.parametrize(("status", "transient"), [(503, True), (429, True), (400, False), (401, False)])
async def test_provider_answers_are_told_apart_transient_or_permanent(status: int, transient: bool) -> None:
    with pytest.raises(DeliveryFailure) as failure:
        await provider_answering(status, []).send(outbound("push", "push-token-0001"))

    assert (failure.value.reason, failure.value.transient) == (f"provider_{status}", transient)


async def test_without_a_configured_provider_sms_fails_for_good() -> None:
    sender = WebhookSender(ProviderConfig(None, None, 1.0))

    with pytest.raises(DeliveryFailure) as failure:
        await sender.send(outbound("sms", "+15550001111"))

    assert (failure.value.reason, failure.value.transient) == ("provider_not_configured", False)
