"""What this service knows of a check-in: enough to remind once, and never after it closed.

Opened by `check-in-due`, closed by `check-in-completed` or `check-in-missed`, in whatever
order they arrive (they are different topics): a check-in closed before its `check-in-due`
came stays closed, and its reminder is never set. `reminder_event_id` names the reminder
once it fired, so closing the check-in can withdraw what of it is still held.
"""

from __future__ import annotations

from datetime import datetime

from services.notifications.domain.check_ins import CheckInStatus
from shared.events.models import CheckInDue
from shared.storage import Document
from shared.storage.documents import Change, Creation, Revision


def opened(
    event: CheckInDue, correlation_id: str, *, reminder_timer_id: str, remind_at: datetime
) -> Creation:
    """A check-in due now; a known one (seen before, or closed already) stays as it is."""

    def change(current: Document | None) -> Revision | None:
        if current is not None:
            return None
        return Revision(
            {
                "client_id": event.client_id,
                "therapist_id": event.therapist_id,
                "due_at": event.due_at,
                "status": CheckInStatus.open,
                "correlation_id": correlation_id,
                "reminder_timer_id": reminder_timer_id,
                "remind_at": remind_at,
                "reminder_event_id": None,
            }
        )

    return change


def closed(*, client_id: str, status: CheckInStatus, at: datetime) -> Creation:
    """Answered or missed: no reminder from now on (known first from here if `check-in-due` is late)."""

    def change(current: Document | None) -> Revision | None:
        if current is not None and current["status"] != CheckInStatus.open:
            return None
        document = current or {"client_id": client_id, "reminder_event_id": None}
        return Revision({**document, "status": status, "closed_at": at})

    return change


def reminded(event_id: str) -> Change:
    """The reminder fired with `event_id`; only an open check-in is reminded."""

    def change(current: Document) -> Revision | None:
        if current["status"] != CheckInStatus.open or current.get("reminder_event_id") == event_id:
            return None
        return Revision({**current, "reminder_event_id": event_id})

    return change
