"""SMS and push through an HTTP provider: a JSON POST to a configurable URL, signed.

The provider checks `X-Carepath-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
against `X-Carepath-Timestamp` (Unix seconds) and refuses stale timestamps, so a captured
request cannot be replayed later or altered (the scheme Stripe and Slack use; the local
provider, `deploy/local/sinks.py`, checks it the same way).
`Idempotency-Key` is the notification id: a retried send after a crash is the same request.

2xx is delivered; 408, 429, 5xx and network trouble are transient; any other answer is
permanent (`provider_<status>`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from services.notifications.channels import Outbound, permanent, transient
from services.notifications.settings import NotificationsSettings

SIGNATURE_HEADER = "X-Carepath-Signature"
TIMESTAMP_HEADER = "X-Carepath-Timestamp"
SIGNATURE_VERSION = "v1"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(now if now is not None else time.time()))
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def payload(outbound: Outbound) -> dict[str, Any]:
    """What the provider needs and nothing more: where, what, how urgent."""
    message = outbound.message
    body: dict[str, Any] = {
        "notification_id": outbound.notification_id,
        "channel": outbound.channel,
        "to": outbound.address,
        "text": message.short,
        "locale": message.locale,
        "priority": "high" if outbound.critical else "normal",
    }
    if outbound.channel == "push":
        body["title"] = message.subject
    return body


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    url: str | None
    secret: str | None
    timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: NotificationsSettings) -> ProviderConfig:
        secret = settings.provider_signing_secret
        return cls(
            url=settings.provider_webhook_url,
            secret=secret.get_secret_value() if secret else None,
            timeout_seconds=settings.provider_timeout_seconds,
        )


class WebhookSender:
    def __init__(self, config: ProviderConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._config = config
        self._transport = transport  # tests answer without a server

    async def send(self, outbound: Outbound) -> None:
        config = self._config
        if not config.url or not config.secret:
            raise permanent("provider_not_configured")
        body = json.dumps(payload(outbound), separators=(",", ":"), sort_keys=True).encode()
        headers = {**signed_headers(config.secret, body), "Idempotency-Key": outbound.notification_id}
        try:
            async with httpx.AsyncClient(timeout=config.timeout_seconds, transport=self._transport) as client:
                response = await client.post(config.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise transient(f"provider_{type(exc).__name__.lower()}"[:64]) from None
        status = response.status_code
        if 200 <= status < 300:
            return
        if status in (408, 429) or status >= 500:
            raise transient(f"provider_{status}")
        raise permanent(f"provider_{status}")
