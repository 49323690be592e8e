"""Register a recipient's contact details, and set their preferences.

Who may do either is the API's to check (`api/access.py`): it depends on the caller.
Details and preferences are kept apart, so replacing one never loses the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.notifications.context import NotificationsContext
from services.notifications.domain.preferences import Preferences
from services.notifications.store.recipients import preferences_of, put_preferences, put_recipient
from shared.storage import Document


@dataclass(frozen=True, slots=True)
class RegisterRecipient:
    """Replace `recipient_id`'s contact details, zone, locale and role with `details`."""

    recipient_id: str
    details: Mapping[str, Any]


async def register_recipient(command: RegisterRecipient, ctx: NotificationsContext) -> Document:
    stored = await ctx.stores.recipients.upsert(
        command.recipient_id, put_recipient(command.details, ctx.clock())
    )
    assert stored is not None  # an upsert whose change always writes
    return stored


@dataclass(frozen=True, slots=True)
class SetPreferences:
    """Replace `recipient_id`'s opt-outs and quiet hours (a recipient not registered yet is created)."""

    recipient_id: str
    preferences: Preferences


async def set_preferences(command: SetPreferences, ctx: NotificationsContext) -> Preferences:
    stored = await ctx.stores.recipients.upsert(
        command.recipient_id, put_preferences(command.preferences, ctx.clock())
    )
    return preferences_of(stored)
