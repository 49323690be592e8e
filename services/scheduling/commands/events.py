"""The events scheduling publishes, built from the care record (ids and times only)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from services.scheduling.commands.context import SOURCE
from services.scheduling.domain.care import Care, Session
from shared.events.common import SessionFormat
from shared.events.envelope import Envelope, OutgoingEvent, new_event
from shared.events.models import (
    SessionAttendanceRecorded,
    SessionBooked,
    SessionCancelled,
    SessionRescheduled,
)

Actor = Literal["client", "clinician", "system"]
"""Who moves a session."""

Booker = Literal["client", "clinician", "admin", "system"]
"""Who books or records a session: a client picking a slot, an admin, or the system (a
proposal booked at once, an acceptance, a series occurrence)."""


def _wrap(
    data: SessionBooked | SessionCancelled | SessionRescheduled | SessionAttendanceRecorded,
    care: Care,
    *,
    cause: Envelope | None,
    now: datetime,
    discriminator: str,
) -> OutgoingEvent:
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
    return _wrap(data, care, cause=cause, now=now, discriminator=f"booked:{session.session_id}")


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
    return _wrap(data, care, cause=cause, now=now, discriminator=f"attendance:{session.session_id}")


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
    return _wrap(data, care, cause=cause, now=now, discriminator=f"cancelled:{session.session_id}")


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
    return _wrap(
        data, care, cause=cause, now=now, discriminator=f"rescheduled:{session.session_id}:{session.revision}"
    )
