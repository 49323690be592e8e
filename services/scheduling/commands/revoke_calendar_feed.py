"""Revoke a calendar feed: its URL answers 404 from now on, like one that never was."""

from __future__ import annotations

from dataclasses import dataclass

from services.scheduling.context import SchedulingContext
from services.scheduling.domain.calendar_feeds import CalendarOf
from services.scheduling.store.calendar_feeds import remove_feed
from shared.refusals import NotFound


@dataclass(frozen=True, slots=True)
class RevokeCalendarFeed:
    calendar_of: CalendarOf
    owner_id: str
    feed_id: str


async def revoke_calendar_feed(command: RevokeCalendarFeed, ctx: SchedulingContext) -> None:
    """Delete the feed; 404 when its owner has no feed by that id (already revoked, or another's)."""
    removed = await remove_feed(
        ctx.stores.calendar_feeds, command.calendar_of, command.owner_id, command.feed_id
    )
    if not removed:
        raise NotFound("no such calendar feed")
