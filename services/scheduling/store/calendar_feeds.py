"""Secret calendar feeds (`calendar_feeds/{sha256 of the token}`): the token itself is never stored.

A calendar app's fetch is the hot path, so the document's `_id` is the token's digest and a
fetch is one read by `_id` (DESIGN §5). Listing a person's feeds and revoking one by its id
are rare, a person's own action, and find by owner (a scan on FerretDB, of a small collection).
"""

from __future__ import annotations

from typing import Any

from services.scheduling.domain.calendar_feeds import CalendarFeed, CalendarOf, token_digest
from shared.ports import Documents
from shared.storage import Document


async def add_feed(store: Documents, feed: CalendarFeed, token: str) -> None:
    await store.insert({"_id": token_digest(token), **_document_of(feed)})


async def feed_of_token(store: Documents, token: str) -> CalendarFeed | None:
    document = await store.get(token_digest(token))
    return None if document is None else _feed_from(document)


async def feeds_of(store: Documents, calendar_of: CalendarOf, owner_id: str) -> list[CalendarFeed]:
    found = await store.find(
        {"calendar_of": calendar_of.value, "owner_id": owner_id}, sort=(("created_at", 1), ("feed_id", 1))
    )
    return [_feed_from(document) for document in found]


async def remove_feed(store: Documents, calendar_of: CalendarOf, owner_id: str, feed_id: str) -> bool:
    """Delete the owner's feed `feed_id`; False when they have none by that id (or it is gone)."""
    found = await store.find({"calendar_of": calendar_of.value, "owner_id": owner_id, "feed_id": feed_id})
    removed = [await store.delete(document["_id"]) for document in found]
    return any(removed)


def _document_of(feed: CalendarFeed) -> dict[str, Any]:
    return {
        "feed_id": feed.feed_id,
        "calendar_of": feed.calendar_of.value,
        "owner_id": feed.owner_id,
        "created_at": feed.created_at,
        "created_by": feed.created_by,
    }


def _feed_from(document: Document) -> CalendarFeed:
    return CalendarFeed(
        feed_id=document["feed_id"],
        calendar_of=CalendarOf(document["calendar_of"]),
        owner_id=document["owner_id"],
        created_at=document["created_at"],
        created_by=document["created_by"],
    )
