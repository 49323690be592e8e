"""What this service knows of a session: enough to remind and to update calendars.

Kept from `session-booked` and kept current by `session-rescheduled` and
`session-cancelled`, so a reminder that fires says the session's current time and link,
and a rescheduled or cancelled .ics carries a higher SEQUENCE than the one before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from services.notifications.domain.messages import session_kind
from services.notifications.domain.reminders import SessionStatus
from shared.events.models import SessionBooked, SessionCancelled, SessionRescheduled
from shared.storage import Document
from shared.storage.documents import Creation, Revision

SessionEvent = SessionBooked | SessionRescheduled | SessionCancelled


def _new_session(event: SessionEvent, correlation_id: str) -> Document:
    """What any session event tells of a session not seen here before.

    A reschedule or a cancellation can be the first this service hears of a session (events
    come in no order across topics): it starts with no link, no reminder timers and the
    first calendar version; a booking then fills in the rest.
    """
    return {
        "client_id": event.client_id,
        "therapist_id": event.therapist_id,
        "series_id": event.series_id,
        "sequence": event.sequence,
        "kind": session_kind(None, event.sequence),
        "join_url": None,
        "correlation_id": correlation_id,
        "reminder_timers": {},
        "calendar_sequence": 0,
    }


def booked(
    event: SessionBooked, correlation_id: str, reminder_timers: Mapping[str, str]
) -> Callable[[Document | None], Revision]:
    """The booking's facts. A reschedule or cancellation handled first (events come in no order
    across topics) is newer than the booking: its times, status and reminder timers stay, and
    the booking fills in only what those events do not carry (the link, the kind)."""

    def change(current: Document | None) -> Revision:
        document = current or _new_session(event, correlation_id)
        booking: Document = {
            "client_id": event.client_id,
            "therapist_id": event.therapist_id,
            "series_id": event.series_id,
            "sequence": event.sequence,
            "kind": session_kind(event.kind, event.sequence),
            "join_url": event.join_url,
            "correlation_id": correlation_id,
        }
        if changed_since_booking(document):
            return Revision({**document, **booking})
        return Revision(
            {
                **document,
                **booking,
                "starts_at": event.starts_at,
                "ends_at": event.ends_at,
                "timezone": event.timezone,
                "format": event.format.value,
                "status": SessionStatus.booked,
                "calendar_sequence": document.get("calendar_sequence", 0),
                "reminder_timers": {**document.get("reminder_timers", {}), **reminder_timers},
            }
        )

    return change


def changed_since_booking(session: Mapping[str, object]) -> bool:
    """Whether a reschedule or a cancellation was kept already (each raises the calendar
    sequence; a booking alone leaves it at 0)."""
    sequence = session.get("calendar_sequence", 0)
    return isinstance(sequence, int) and sequence > 0


def rescheduled(event: SessionRescheduled, correlation_id: str) -> Creation:
    """New times; a session this service never saw booked is learned from here (no link)."""

    def change(current: Document | None) -> Revision:
        document = current or _new_session(event, correlation_id)
        return Revision(
            {
                **document,
                "starts_at": event.starts_at,
                "ends_at": event.ends_at,
                "timezone": event.timezone,
                "format": event.format.value,
                "status": SessionStatus.booked,
                "calendar_sequence": document.get("calendar_sequence", 0) + 1,
            }
        )

    return change


def cancelled(event: SessionCancelled, correlation_id: str) -> Creation:
    def change(current: Document | None) -> Revision:
        document = current or {
            **_new_session(event, correlation_id),
            "starts_at": event.starts_at,
            "ends_at": None,
            "format": None,
        }
        return Revision(
            {
                **document,
                "status": SessionStatus.cancelled,
                "cancelled_at": event.cancelled_at,
                "calendar_sequence": document.get("calendar_sequence", 0) + 1,
            }
        )

    return change


def reminder_timer(lead: str, timer_id: str) -> Creation:
    """Remember which timer carries a reminder now (a moved reminder may get a new timer)."""

    def change(current: Document | None) -> Revision | None:
        if current is None or current.get("reminder_timers", {}).get(lead) == timer_id:
            return None
        return Revision(
            {**current, "reminder_timers": {**current.get("reminder_timers", {}), lead: timer_id}}
        )

    return change


def starts_at_of(session: Mapping[str, object]) -> datetime:
    value = session["starts_at"]
    assert isinstance(value, datetime)
    return value
