"""Calendar feeds (RFC 5545, written with `icalendar`): one VEVENT per session.

A session's UID is derived from its id and never changes, and SEQUENCE is its revision,
so a calendar app that subscribed updates a moved session in place (and shows a
cancelled one as cancelled) instead of adding a duplicate. The join link travels as URL,
LOCATION and CONFERENCE (RFC 7986). Summaries say what the session is, never who: a feed
can end up in a shared calendar.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from icalendar import Calendar, Conference, Event
from icalendar.enums import STATUS

from services.scheduling.domain.cancellation import CANCELLED
from services.scheduling.domain.care import Session, SessionKind

PRODID = "-//Carepath//Scheduling//EN"
UID_DOMAIN = "scheduling.carepath"

_SUMMARIES = {SessionKind.introduction: "Introduction session", SessionKind.therapy: "Therapy session"}


def session_uid(session_id: str) -> str:
    return f"{session_id}@{UID_DOMAIN}"


def calendar_feed(sessions: Iterable[Session], *, name: str, feed_id: str, now: datetime) -> bytes:
    events = [_event(session, now) for session in sorted(sessions, key=lambda s: (s.starts_at, s.session_id))]
    calendar = Calendar.new(
        prodid=PRODID, name=name, uid=f"{feed_id}@{UID_DOMAIN}", method="PUBLISH", subcomponents=events
    )
    return bytes(calendar.to_ical())


def _event(session: Session, now: datetime) -> Event:
    cancelled = session.status in CANCELLED
    return Event.new(
        uid=session_uid(session.session_id),
        sequence=session.revision,
        stamp=session.updated_at or now,
        last_modified=session.updated_at or now,
        start=session.starts_at,
        end=session.ends_at,
        summary=_SUMMARIES[session.kind] + (" (cancelled)" if cancelled else ""),
        status=STATUS.CANCELLED if cancelled else STATUS.CONFIRMED,
        url=session.join_url,
        location=session.join_url,
        description=f"Join: {session.join_url}",
        conferences=[Conference(session.join_url, feature="VIDEO", label="Join the session")],
    )
