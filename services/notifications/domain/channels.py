"""The channels a message can go on, and which of them reach a given recipient.

Everyone has the in-app inbox (it needs only their id); e-mail, SMS and push reach a
recipient only at an address they gave. Whether a message then goes on a channel is the
recipient's choice (`preferences.py`); whether it can is decided here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Channel = Literal["email", "sms", "push", "in_app"]
CHANNELS: tuple[Channel, ...] = ("email", "sms", "push", "in_app")
EXTERNAL_CHANNELS: tuple[Channel, ...] = ("email", "sms", "push")
"""Channels that reach a person outside the app: what paging the on-call rota counts."""


@dataclass(frozen=True, slots=True)
class Contacts:
    """Where a recipient can be reached: addresses live only here and in their record."""

    recipient_id: str
    email: str | None = None
    phone: str | None = None
    push_token: str | None = None


def address_for(contacts: Contacts, channel: Channel) -> str | None:
    """Where `channel` reaches the recipient, or None when they gave no address for it."""
    addresses: dict[Channel, str | None] = {
        "email": contacts.email,
        "sms": contacts.phone,
        "push": contacts.push_token,
        "in_app": contacts.recipient_id,
    }
    return addresses[channel] or None


def available_channels(contacts: Contacts) -> list[Channel]:
    """Every channel the recipient has an address for, in `CHANNELS` order; always the inbox."""
    return [channel for channel in CHANNELS if address_for(contacts, channel)]
