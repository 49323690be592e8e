"""The events scheduling publishes, built from the care record and the rules (ids and times only).

An event caused by another (a consumed event, a timer's firing) derives its id from that
cause, so handling the cause again produces the very same event; one a request causes
carries the client's journey (`correlation_id`) instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from services.scheduling.domain.availability import DAY_CODES, Availability, format_clock
from services.scheduling.domain.care import Care, Session
from services.scheduling.domain.rhythm import check_in_id
from shared.events.common import SessionFormat, Weekday, WeeklyWindow
from shared.events.envelope import Envelope, OutgoingEvent, new_event
from shared.events.models import (
    BookingFailed,
    CheckInDue,
    SessionAttendanceRecorded,
    SessionBooked,
    SessionCancelled,
    SessionRescheduled,
    TherapistAvailabilityChanged,
)

SOURCE = "scheduling"
"""The service's name: the `source` of what it publishes and of its timers' firings."""

INSTRUMENTS: list[Any] = ["phq9", "gad7"]
"""What a check-in asks the client to fill in."""

Actor = Literal["client", "clinician", "system"]
"""Who moves a session."""

Booker = Literal["client", "clinician", "admin", "system"]
"""Who books or records a session: a client picking a slot, an admin, or the system (a
proposal booked at once, an acceptance, a series occurrence)."""


def _told(
    data: BaseModel, care: Care, *, cause: Envelope | None, now: datetime, discriminator: str = ""
) -> OutgoingEvent:
    """`data` as an event: derived from `cause` when there is one, else in the client's journey."""
    if cause is not None:
        return new_event(data, source=SOURCE, cause=cause, discriminator=discriminator, now=now)
    return new_event(data, source=SOURCE, correlation_id=care.correlation_id, now=now)


def session_booked(session: Session, care: Care, *, cause: Envelope | None, now: datetime) -> OutgoingEvent:
    data = SessionBooked(
        session_id=session.session_id,
        client_id=session.client_id,
        therapist_id=session.therapist_id,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        timezone=session.timezone,
        format=SessionFormat(session.format),
        series_id=session.series_id,
        sequence=session.sequence,
        join_url=session.join_url,
        match_id=session.match_id,
        kind=session.kind.value,
        booked_by=session.booked_by or "system",  # type: ignore[arg-type]
    )
    return _told(data, care, cause=cause, now=now, discriminator=f"booked:{session.session_id}")


def session_attendance_recorded(
    session: Session, care: Care, *, cause: Envelope | None, now: datetime
) -> OutgoingEvent:
    assert session.attendance is not None and session.attendance_recorded_at is not None
    data = SessionAttendanceRecorded(
        session_id=session.session_id,
        client_id=session.client_id,
        therapist_id=session.therapist_id,
        series_id=session.series_id,
        sequence=session.sequence,
        kind=session.kind.value,
        attendance=session.attendance.value,
        starts_at=session.starts_at,
        recorded_at=session.attendance_recorded_at,
        recorded_by=session.attendance_recorded_by or "system",  # type: ignore[arg-type]
        match_id=session.match_id,
        offered_slots=list(session.offered_slots),
    )
    return _told(data, care, cause=cause, now=now, discriminator=f"attendance:{session.session_id}")


def session_cancelled(
    session: Session, care: Care, *, cause: Envelope | None, now: datetime
) -> OutgoingEvent:
    data = SessionCancelled(
        session_id=session.session_id,
        client_id=session.client_id,
        therapist_id=session.therapist_id,
        series_id=session.series_id,
        sequence=session.sequence,
        starts_at=session.starts_at,
        cancelled_at=now,
        status=session.status.value,  # type: ignore[arg-type]
        cancelled_by=session.cancelled_by or "system",  # type: ignore[arg-type]
        reason=session.cancel_reason,
    )
    return _told(data, care, cause=cause, now=now, discriminator=f"cancelled:{session.session_id}")


def session_rescheduled(
    session: Session,
    previous_starts_at: datetime,
    care: Care,
    *,
    by: Actor,
    cause: Envelope | None,
    now: datetime,
) -> OutgoingEvent:
    data = SessionRescheduled(
        session_id=session.session_id,
        client_id=session.client_id,
        therapist_id=session.therapist_id,
        series_id=session.series_id,
        sequence=session.sequence,
        previous_starts_at=previous_starts_at,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        timezone=session.timezone,
        format=SessionFormat(session.format),
        rescheduled_by=by,
    )
    return _told(
        data, care, cause=cause, now=now, discriminator=f"rescheduled:{session.session_id}:{session.revision}"
    )


def booking_failed(
    care: Care,
    *,
    match_id: str,
    intake_id: str | None,
    reason: str,
    tried: list[str],
    cause: Envelope | None,
    now: datetime,
) -> OutgoingEvent:
    """Matching hears why none of the therapists `tried` could be booked."""
    data = BookingFailed(
        match_id=match_id,
        client_id=care.client_id,
        intake_id=intake_id,
        reason=reason,
        tried_therapist_ids=tried,
        failed_at=now,
    )
    return _told(data, care, cause=cause, now=now)


def check_in_due(
    care: Care, therapist_id: str, due_at: datetime, *, event_id: str, correlation_id: str, now: datetime
) -> OutgoingEvent:
    """A check-in falls due: its id and the event's are the same however often its timer fires."""
    data = CheckInDue(
        check_in_id=check_in_id(care.client_id, due_at),
        client_id=care.client_id,
        therapist_id=therapist_id,
        due_at=due_at,
        instruments=INSTRUMENTS,
        series_id=care.series.series_id if care.series else None,
    )
    return new_event(data, source=SOURCE, event_id=event_id, correlation_id=correlation_id, now=now)


def availability_changed(
    therapist_id: str,
    availability: Availability,
    *,
    open_slots: int,
    correlation_id: str | None,
    now: datetime,
) -> OutgoingEvent:
    """What matching scores availability with: the weekly rules as windows in the therapist's
    zone and how many slots are free in the next days."""
    data = TherapistAvailabilityChanged(
        therapist_id=therapist_id,
        timezone=availability.timezone,
        weekly=[
            WeeklyWindow(
                day=Weekday(DAY_CODES[rule.day]),
                start=format_clock(rule.window.start),
                end=format_clock(rule.window.end),
            )
            for rule in availability.weekly
        ],
        accepting_new_clients=availability.accepting_new_clients,
        open_slots_next_14_days=open_slots,
        changed_at=now,
    )
    return new_event(data, source=SOURCE, correlation_id=correlation_id, now=now)
