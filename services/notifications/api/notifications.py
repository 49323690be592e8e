"""A recipient's in-app inbox (paged, newest first, mark read) and their delivery log."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from services.notifications.api.access import ensure_acts_for
from services.notifications.api.dependencies import Context, NotificationId, RecipientId
from services.notifications.commands.read_inbox_entry import ReadInboxEntry, read_inbox_entry
from services.notifications.domain.channels import Channel
from services.notifications.store.inbox import inbox_entry, inbox_page
from services.notifications.store.indexes import log_of, page
from shared.http.dependencies import Audit, Caller
from shared.refusals import NotFound
from shared.storage import Document

router = APIRouter(tags=["notifications"])

Offset = Annotated[int, Query(ge=0, le=100_000)]
Limit = Annotated[int, Query(ge=1, le=100)]


class InboxItem(BaseModel):
    id: str
    kind: str
    title: str
    body: str
    critical: bool
    created_at: datetime
    read: bool


class InboxPage(BaseModel):
    items: list[InboxItem]
    total: int
    unread: int
    offset: int
    limit: int


class DeliveryView(BaseModel):
    """One message on one channel: what and when, never the address or the text."""

    id: str
    kind: str
    channel: Channel
    critical: bool
    status: str
    event_id: str
    event_type: str
    attempts: int
    reason: str | None
    created_at: datetime
    not_before: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryView]
    total: int
    offset: int
    limit: int


def _item(entry: Document, unread: AbstractSet[str]) -> InboxItem:
    return InboxItem(
        id=entry["_id"],
        kind=entry["kind"],
        title=entry["title"],
        body=entry["body"],
        critical=entry["critical"],
        created_at=entry["created_at"],
        read=entry["_id"] not in unread,
    )


@router.get("/recipients/{recipient_id}/notifications", response_model=InboxPage)
async def list_inbox(
    recipient_id: RecipientId,
    who: Caller,
    ctx: Context,
    audit: Audit,
    offset: Offset = 0,
    limit: Limit = 20,
) -> InboxPage:
    """The in-app inbox, newest first: the messages of this month and the twelve before."""
    ensure_acts_for(who, recipient_id)
    inbox = await inbox_page(ctx.stores, recipient_id, now=ctx.clock(), offset=offset, limit=limit)
    await audit.read(resource="inbox", resource_id=recipient_id)
    return InboxPage(
        items=[_item(entry, inbox.unread) for entry in inbox.entries],
        total=inbox.total,
        unread=len(inbox.unread),
        offset=offset,
        limit=limit,
    )


@router.post("/recipients/{recipient_id}/notifications/{notification_id}/read", response_model=InboxItem)
async def mark_read(
    recipient_id: RecipientId, notification_id: NotificationId, who: Caller, ctx: Context
) -> InboxItem:
    """Mark one inbox entry read (again is fine)."""
    ensure_acts_for(who, recipient_id)
    entry = await inbox_entry(ctx.stores, notification_id)
    if entry is None or entry["recipient_id"] != recipient_id:
        raise NotFound("no such notification in this inbox", field="path.notification_id")
    unread = await read_inbox_entry(ReadInboxEntry(recipient_id, notification_id), ctx)
    return _item(entry, unread)


@router.get("/recipients/{recipient_id}/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    recipient_id: RecipientId,
    who: Caller,
    ctx: Context,
    audit: Audit,
    offset: Offset = 0,
    limit: Limit = 20,
) -> DeliveryPage:
    """The delivery log, newest first: each message on each channel, its status and reason, of
    this month and the twelve before."""
    ensure_acts_for(who, recipient_id)
    index = await log_of(ctx.stores, recipient_id, ctx.clock())
    ids, total = page(index, "deliveries", offset=offset, limit=limit)
    await audit.read(resource="deliveries", resource_id=recipient_id)
    deliveries = [d for i in ids if (d := await ctx.stores.deliveries.get(i)) is not None]
    return DeliveryPage(
        items=[
            DeliveryView(
                id=d["_id"],
                kind=d["kind"],
                channel=d["channel"],
                critical=d["critical"],
                status=d["status"],
                event_id=d["event_id"],
                event_type=d["event_type"],
                attempts=d["attempts"],
                reason=d.get("reason"),
                created_at=d["created_at"],
                not_before=d.get("not_before"),
                delivered_at=d.get("delivered_at"),
                failed_at=d.get("failed_at"),
            )
            for d in deliveries
        ],
        total=total,
        offset=offset,
        limit=limit,
    )
