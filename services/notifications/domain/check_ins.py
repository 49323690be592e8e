"""A check-in's one reminder: due some hours after the check-in, never once it is answered or missed.

The reminder is a durable timer keyed by the check-in (`check-in-reminder:{check_in_id}`),
so however often `check-in-due` arrives there is one; it fires
`NOTIFICATIONS_CHECK_IN_REMINDER_HOURS` of domain time after the due time. What the service
knows of the check-in (open, completed, missed) decides at firing whether it still goes:
the events that close a check-in come on other topics, in no order with `check-in-due`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum


class CheckInStatus(StrEnum):
    open = "open"  # due and not answered yet: its reminder may go
    completed = "completed"  # answered (`check-in-completed`)
    missed = "missed"  # expired unanswered (`check-in-missed`)


def reminder_timer_id(check_in_id: str) -> str:
    return f"check-in-reminder:{check_in_id}"


def reminder_time(due_at: datetime, after: timedelta) -> datetime:
    """When an unanswered check-in is reminded of: `after` its due time (domain time)."""
    return due_at + after
