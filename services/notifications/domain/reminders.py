"""Session reminders: 24 hours and 1 hour before the start, never in the past, never once cancelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

REMINDER_LEADS: dict[str, timedelta] = {"24h": timedelta(hours=24), "1h": timedelta(hours=1)}


class SessionStatus(StrEnum):
    booked = "booked"  # booked or rescheduled: its reminders go
    cancelled = "cancelled"  # its reminders never go


def reminder_time(starts_at: datetime, lead: str) -> datetime:
    return starts_at - REMINDER_LEADS[lead]


def reminder_times(starts_at: datetime, now: datetime) -> dict[str, datetime]:
    """Each reminder still ahead of `now` (a session booked 3 h ahead gets only the 1 h one)."""
    return {lead: due for lead in REMINDER_LEADS if (due := reminder_time(starts_at, lead)) > now}


def reminder_timer_id(session_id: str, lead: str) -> str:
    """The first reminder timer of a session; a reschedule moves it while it is pending."""
    return f"reminder:{session_id}:{lead}"


def moved_reminder_timer_id(session_id: str, lead: str, due_at: datetime) -> str:
    """A fresh timer for a reminder whose first timer fired already (the session moved later)."""
    return f"reminder:{session_id}:{lead}:{due_at.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"
