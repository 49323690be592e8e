"""The session as an iCalendar object (RFC 5545) for the e-mail attachment.

The UID is stable per session (`<session_id>@carepath`), so a calendar application
updates its entry when a rescheduled session arrives with a higher SEQUENCE, and removes
it on a cancellation (METHOD:CANCEL, STATUS:CANCELLED). The summary and description are
the localized words of the message: no names, no clinical content.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from icalendar import Calendar, Event

PRODUCT_ID = "-//Carepath//Notifications//EN"


def session_uid(session_id: str) -> str:
    return f"{session_id}@carepath"


def session_calendar(
    context: Mapping[str, Any],
    *,
    summary: str,
    description: str,
    organizer: str,
    now: datetime,
    cancelled: bool = False,
) -> bytes:
    """The session of `context` (session_id, starts_at, ends_at, join_url) as a VCALENDAR."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    event.add("uid", session_uid(context["session_id"]))
    event.add("dtstamp", now)
    event.add("dtstart", datetime.fromisoformat(context["starts_at"]))
    if context.get("ends_at"):
        event.add("dtend", datetime.fromisoformat(context["ends_at"]))
    event.add("sequence", int(context.get("calendar_sequence") or 0))
    event.add("summary", summary)
    event.add("description", description)
    event.add("organizer", f"mailto:{organizer}")
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if context.get("join_url"):
        event.add("url", context["join_url"])
        event.add("location", context["join_url"])
    calendar.add_component(event)
    return bytes(calendar.to_ical())
