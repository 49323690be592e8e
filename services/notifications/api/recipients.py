"""Recipients: contact channels, time zone, language, role, and their preferences.

Clients, therapists and the on-call clinical rota are recipients, keyed by the id events
use for them (`client_id`, `therapist_id`, a rota id). Contact details live only here;
they are readable only by the recipient themself and admins, and every read is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.notifications.api.access import ensure_acts_for, ensure_may_register, ensure_reads_contacts
from services.notifications.api.dependencies import Context, RecipientId
from services.notifications.commands.recipients import (
    RegisterRecipient,
    SetPreferences,
    register_recipient,
    set_preferences,
)
from services.notifications.domain.channels import Channel, available_channels
from services.notifications.domain.preferences import Preferences
from services.notifications.store.recipients import contacts_of, preferences_of
from shared.events.common import TimeZoneName
from shared.http.dependencies import Audit, Caller
from shared.refusals import NotFound
from shared.storage import Document

router = APIRouter(tags=["recipients"])

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})+$"
"""The WHATWG `input type=email` rule, plus a dot in the domain; full RFC 5322 is not worth it."""
RecipientRole = Literal["client", "therapist", "on_call"]


class RecipientDetails(BaseModel):
    """How to reach a recipient. Omit a channel they do not have; the in-app inbox is always there."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    role: RecipientRole
    email: str | None = Field(
        default=None, max_length=254, pattern=EMAIL_PATTERN, examples=["ana@example.org"]
    )
    phone: str | None = Field(
        default=None, pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164", examples=["+15551234567"]
    )
    push_token: str | None = Field(default=None, min_length=8, max_length=512, pattern=r"^[A-Za-z0-9_:.\-]+$")
    timezone: TimeZoneName = Field(default="UTC", examples=["America/New_York"])
    locale: str = Field(default="en", pattern=r"^(en|es)(-[A-Z]{2})?$", examples=["es-MX"])


class RecipientSummary(BaseModel):
    """A recipient without their contact details: which channels they have, not the addresses."""

    id: str
    role: RecipientRole | None
    timezone: str
    locale: str
    channels: list[Channel]
    updated_at: datetime


class RecipientView(RecipientSummary):
    email: str | None
    phone: str | None
    push_token: str | None


def _summary(recipient: Document) -> RecipientSummary:
    return RecipientSummary(
        id=recipient["_id"],
        role=recipient.get("role"),
        timezone=recipient.get("timezone") or "UTC",
        locale=recipient.get("locale") or "en",
        channels=available_channels(contacts_of(recipient, recipient["_id"])),
        updated_at=recipient["updated_at"],
    )


@router.put("/recipients/{recipient_id}", response_model=RecipientSummary)
async def put_recipient_details(
    recipient_id: RecipientId, details: RecipientDetails, who: Caller, ctx: Context
) -> RecipientSummary:
    """Register or replace a recipient's contact details (preferences are kept).

    The answer names the channels the recipient has, never the addresses.
    """
    ensure_may_register(who, recipient_id, details.role)
    stored = await register_recipient(RegisterRecipient(recipient_id, details.model_dump()), ctx)
    return _summary(stored)


@router.get("/recipients/{recipient_id}", response_model=RecipientView)
async def read_recipient(recipient_id: RecipientId, who: Caller, ctx: Context, audit: Audit) -> RecipientView:
    """A recipient's contact details: for the recipient themself and admins only."""
    ensure_reads_contacts(who, recipient_id)
    recipient = await ctx.stores.recipients.get(recipient_id)
    if recipient is None or "updated_at" not in recipient:  # preferences alone register nobody
        raise NotFound("no such recipient")
    await audit.read(resource="recipient_contacts", resource_id=recipient_id)
    return RecipientView(
        **_summary(recipient).model_dump(),
        email=recipient.get("email"),
        phone=recipient.get("phone"),
        push_token=recipient.get("push_token"),
    )


@router.put("/recipients/{recipient_id}/preferences", response_model=Preferences)
async def put_recipient_preferences(
    recipient_id: RecipientId, preferences: Preferences, who: Caller, ctx: Context
) -> Preferences:
    """Replace opt-outs (per channel, and per kind of message and channel) and quiet hours.

    Quiet hours are wall-clock times in the recipient's time zone (`22:00`–`07:00` crosses
    midnight). Risk alerts and crisis resources ignore all of it.
    """
    ensure_acts_for(who, recipient_id)
    return await set_preferences(SetPreferences(recipient_id, preferences), ctx)


@router.get("/recipients/{recipient_id}/preferences", response_model=Preferences)
async def read_recipient_preferences(recipient_id: RecipientId, who: Caller, ctx: Context) -> Preferences:
    """The recipient's preferences (defaults when none were set: everything on, no quiet hours)."""
    ensure_acts_for(who, recipient_id)
    return preferences_of(await ctx.stores.recipients.get(recipient_id))
