"""Calendar feeds (RFC 5545, written with `icalendar`): one VEVENT per session.

A feed is a published calendar that apps subscribe to, not an iTIP message (RFC 5546), so
it carries no `METHOD` (with `METHOD:PUBLISH` every event would need an `ORGANIZER`, and
strict parsers such as ical4j refuse it without one). A session's UID is derived from its
id and never changes, and SEQUENCE is its revision, so a calendar app updates a moved
session in place (and shows a cancelled one as cancelled) instead of adding a duplicate;
DTSTAMP is when the session last changed, as RFC 5545 asks of an object without a METHOD.

Only a video session carries a join link (URL, CONFERENCE of RFC 7986, and in the
description): every session has a video room of its own (`session-booked` v1 requires
`join_url`), but a phone, chat or in-person session is not attended through it. Summaries
say what the session is, never who: a feed can end up in a shared calendar.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from icalendar import Calendar, Conference, Event, vDuration
from icalendar.enums import STATUS

from services.scheduling.domain.cancellation import CANCELLED
from services.scheduling.domain.care import Session, SessionKind
from shared.events.common import SessionFormat

PRODID = "-//Carepath//Scheduling//EN"
UID_DOMAIN = "scheduling.carepath"
REFRESH_INTERVAL = timedelta(hours=1)
"""How often a subscribed app should fetch the feed again (RFC 7986; X-PUBLISHED-TTL for Outlook)."""

_SUMMARIES = {SessionKind.introduction: "Introduction session", SessionKind.therapy: "Therapy session"}
_HOW = {
    SessionFormat.phone: "By phone",
    SessionFormat.chat: "By chat",
    SessionFormat.in_person: "In person",
}


def session_uid(session_id: str) -> str:
    return f"{session_id}@{UID_DOMAIN}"


def join_link(session: Session) -> str | None:
    """The link to attend `session` by: its video room when it is a video session, else none."""
    return session.join_url if session.format == SessionFormat.video else None


def calendar_feed(sessions: Iterable[Session], *, name: str, feed_id: str, now: datetime) -> bytes:
    events = [_event(session, now) for session in sorted(sessions, key=lambda s: (s.starts_at, s.session_id))]
    calendar = Calendar.new(prodid=PRODID, name=name, uid=f"{feed_id}@{UID_DOMAIN}", subcomponents=events)
    # RFC 7986 requires VALUE=DURATION on REFRESH-INTERVAL, which `Calendar.new` leaves out.
    calendar.add("refresh-interval", vDuration(REFRESH_INTERVAL), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    return bytes(calendar.to_ical())


def _event(session: Session, now: datetime) -> Event:
    cancelled = session.status in CANCELLED
    link = join_link(session)
    event = Event.new(
        uid=session_uid(session.session_id),
        sequence=session.revision,
        stamp=session.updated_at or now,
        last_modified=session.updated_at or now,
        start=session.starts_at,
        end=session.ends_at,
        summary=_SUMMARIES[session.kind] + (" (cancelled)" if cancelled else ""),
        status=STATUS.CANCELLED if cancelled else STATUS.CONFIRMED,
        url=link,
        location=link,
        description=f"Join: {link}" if link else _HOW.get(SessionFormat(session.format)),
        conferences=[Conference(link, feature="VIDEO", label="Join the session")] if link else None,
    )
    return event
