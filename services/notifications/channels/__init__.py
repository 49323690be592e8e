"""Channel adapters: e-mail over SMTP, SMS and push through a signed webhook, the in-app inbox.

Every adapter sends one `Outbound` and either returns (delivered) or raises a
`DeliveryFailure` with a reason code: `transient` ones are retried with backoff, the
others fail the delivery for good. Reasons are codes, never the provider's text, which
might echo an address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from services.notifications.domain.channels import Channel
from services.notifications.rendering import Rendered
from shared.storage import Document


class DeliveryFailure(Exception):
    """A send that did not happen; `reason` is a code (`smtp_550`, `provider_503`, ...)."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


def transient(reason: str) -> DeliveryFailure:
    return DeliveryFailure(reason, transient=True)


def permanent(reason: str) -> DeliveryFailure:
    return DeliveryFailure(reason, transient=False)


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar; method=PUBLISH"
    data: bytes


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message ready for one channel. `address` is the e-mail, phone or push token
    (the recipient id for the in-app inbox); it lives only here and in the recipient."""

    delivery_id: str
    notification_id: str
    recipient_id: str
    channel: Channel
    address: str
    kind: str
    critical: bool
    message: Rendered
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)


class Sender(Protocol):
    """One channel's adapter. What it returns, if anything, the delivery keeps with its
    outcome (the in-app inbox's entry: `in_app.py`)."""

    async def send(self, outbound: Outbound) -> Document | None: ...
