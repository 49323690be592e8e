"""The cancellation policy (DOMAIN.md): late cancels within 24 h, clinician cancels, no-shows.

A client cancelling within `late_window` of the start is a late cancel, kept as its own
status (a practice may charge for it); a clinician's cancellation is never the client's
fault and is told apart; the system cancels when care changes (plan completed, therapist
switched). Whoever cancels, the slot is freed. Attendance (held, or a no-show) is recorded
only once the session has started, and only by the clinician (or an admin).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from shared.refusals import Conflict

LATE_CANCEL_WINDOW = timedelta(hours=24)


class SessionStatus(StrEnum):
    booked = "booked"
    cancelled = "cancelled"
    late_cancelled = "late_cancelled"
    clinician_cancelled = "clinician_cancelled"
    no_show = "no_show"


HOLDS_TIME = frozenset({SessionStatus.booked, SessionStatus.no_show})
"""Statuses whose time stays taken; every cancellation frees its slot."""

CANCELLED = frozenset(
    {SessionStatus.cancelled, SessionStatus.late_cancelled, SessionStatus.clinician_cancelled}
)


class CancelledBy(StrEnum):
    client = "client"
    clinician = "clinician"
    system = "system"


class NotCancellable(Conflict):
    """Why a session cannot be cancelled (or marked) now; `code` is what the API returns."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


def cancellation_status(
    by: CancelledBy, starts_at: datetime, now: datetime, *, late_window: timedelta = LATE_CANCEL_WINDOW
) -> SessionStatus:
    if by is CancelledBy.clinician:
        return SessionStatus.clinician_cancelled
    if by is CancelledBy.client and starts_at - now < late_window:
        return SessionStatus.late_cancelled
    return SessionStatus.cancelled


def check_cancellable(status: SessionStatus, starts_at: datetime, now: datetime) -> None:
    if status is not SessionStatus.booked:
        raise NotCancellable("session_not_booked", f"the session is {status.value}, not booked")
    if starts_at <= now:
        raise NotCancellable("session_started", "the session has started; record its attendance instead")


def check_attendance(status: SessionStatus, starts_at: datetime, now: datetime) -> None:
    """Whether attendance may be recorded now: a booked session that has started."""
    if status is not SessionStatus.booked:
        raise NotCancellable("session_not_booked", f"the session is {status.value}, not booked")
    if starts_at > now:
        raise NotCancellable(
            "session_not_started", "attendance can be recorded only once the session has started"
        )
