"""Recipients: the only place contact details live (never in events, logs or deliveries).

Maps a recipient's document to what the rules need (`Contacts`, `Preferences`, zone and
locale); which channels reach them is `domain/channels.py`'s to say.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.notifications.domain.channels import Contacts
from services.notifications.domain.preferences import Preferences
from shared.storage import Document
from shared.storage.documents import Creation, Revision

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


def contacts_of(recipient: Mapping[str, Any] | None, recipient_id: str) -> Contacts:
    """The addresses a recipient's record holds (none for someone never registered)."""
    found = recipient or {}
    return Contacts(
        recipient_id=recipient_id,
        email=_text(found.get("email")),
        phone=_text(found.get("phone")),
        push_token=_text(found.get("push_token")),
    )


def zone_of(recipient: Mapping[str, Any] | None, fallback: str | None = None) -> str:
    return str((recipient or {}).get("timezone") or fallback or DEFAULT_ZONE)


def locale_of(recipient: Mapping[str, Any] | None) -> str | None:
    return _text((recipient or {}).get("locale"))


def _text(value: object) -> str | None:
    return str(value) if value else None
