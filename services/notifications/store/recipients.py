"""Recipients: the only place contact details live (never in events, logs or deliveries)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.notifications.domain.preferences import CHANNELS, Channel, Preferences
from shared.storage import Document
from shared.storage.documents import Creation, Revision

CONTACT_FIELDS: dict[Channel, str] = {"email": "email", "sms": "phone", "push": "push_token"}
DEFAULT_ZONE = "UTC"


def put_recipient(details: Mapping[str, Any], now: datetime) -> Creation:
    """Replace a recipient's details; preferences set separately are kept."""

    def change(current: Document | None) -> Revision:
        kept = {"preferences": current.get("preferences", {})} if current else {"preferences": {}}
        created = current.get("created_at", now) if current else now
        return Revision({**kept, **details, "created_at": created, "updated_at": now})

    return change


def put_preferences(preferences: Preferences, now: datetime) -> Creation:
    """Replace a recipient's preferences; a recipient not registered yet is created bare."""

    def change(current: Document | None) -> Revision:
        base = current or {"created_at": now}
        return Revision({**base, "preferences": preferences.model_dump(mode="json"), "updated_at": now})

    return change


def preferences_of(recipient: Mapping[str, Any] | None) -> Preferences:
    return Preferences.model_validate((recipient or {}).get("preferences") or {})


def address_for(recipient: Mapping[str, Any] | None, channel: Channel) -> str | None:
    """Where `channel` reaches the recipient; the in-app inbox needs only the id."""
    if channel == "in_app":
        return str(recipient["_id"]) if recipient else None
    value = (recipient or {}).get(CONTACT_FIELDS[channel])
    return str(value) if value else None


def available_channels(recipient: Mapping[str, Any] | None, recipient_id: str) -> list[Channel]:
    """Every channel the recipient has an address for; everyone has the in-app inbox."""
    found: list[Channel] = []
    for channel in CHANNELS:
        if channel == "in_app" or address_for(recipient, channel):
            found.append(channel)
    return found


def zone_of(recipient: Mapping[str, Any] | None, fallback: str | None = None) -> str:
    return str((recipient or {}).get("timezone") or fallback or DEFAULT_ZONE)


def locale_of(recipient: Mapping[str, Any] | None) -> str | None:
    value = (recipient or {}).get("locale")
    return str(value) if value else None
