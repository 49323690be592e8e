"""Make a secret calendar feed for a client or a therapist; its URL's token is shown this once.

Who may is the route's to check (the person themself or an admin); what the feed shows is
decided when it is read, by the same rules as the owner's own calendar.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.scheduling.context import SchedulingContext
from services.scheduling.domain.calendar_feeds import CalendarFeed, CalendarOf, new_feed_id, new_token
from services.scheduling.store.calendar_feeds import add_feed


@dataclass(frozen=True, slots=True)
class CreateCalendarFeed:
    calendar_of: CalendarOf
    owner_id: str
    created_by: str


@dataclass(frozen=True, slots=True)
class IssuedFeed:
    """The feed as stored, and its token, which nobody can read back later."""

    feed: CalendarFeed
    token: str


async def create_calendar_feed(command: CreateCalendarFeed, ctx: SchedulingContext) -> IssuedFeed:
    feed = CalendarFeed(
        feed_id=new_feed_id(),
        calendar_of=command.calendar_of,
        owner_id=command.owner_id,
        created_at=ctx.now(),
        created_by=command.created_by,
    )
    token = new_token()
    await add_feed(ctx.stores.calendar_feeds, feed, token)
    return IssuedFeed(feed, token)
