"""Record whether a session took place (`POST /v1/sessions/{id}/attendance`): held, or a no-show.

The session's therapist (or an admin) records it once the session has started, and once:
the same answer again changes nothing, a different one is refused (409). The record and
`session-attendance-recorded` are one write.

- a held introduction puts the client in care with its therapist (only a therapist the
  client chose: 409 `not_chosen` otherwise); a plan of theirs that came first starts the
  routine now (`domain/care_changes.start_routine`);
- a missed introduction starts nothing: the session is kept as `no_show`, the client stays
  *chosen*, and the event offers the same therapist's next free starts inside the client's
  windows (up to three, past the minimum notice, within the horizon), one of which the
  client may book as a new introduction (`POST /v1/sessions`);
- a therapy session: recorded and told; care goes on as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.scheduling.context import SchedulingContext
from services.scheduling.domain.cancellation import SessionStatus, check_attendance
from services.scheduling.domain.care import Attendance, Care, Session, SessionKind
from services.scheduling.domain.care_changes import start_routine
from services.scheduling.domain.events import Booker, session_attendance_recorded
from services.scheduling.domain.slots import Calendar, ClientWindows
from services.scheduling.store.clients import Decision, load_care, write_care
from services.scheduling.store.therapist_sessions import booked_of
from services.scheduling.store.therapists import availability_of
from shared.refusals import Conflict, FieldProblem

OFFERED_SLOTS = 3


@dataclass(frozen=True, slots=True)
class RecordAttendance:
    """Record whether `session` (as the caller found it) took place, as `by` says."""

    session: Session
    attendance: Attendance
    by: Booker


async def record_attendance(command: RecordAttendance, ctx: SchedulingContext) -> Session:
    session, attendance = command.session, command.attendance
    session_id = session.session_id
    offered: tuple[datetime, ...] = ()
    missed_introduction = attendance is Attendance.no_show and session.kind is SessionKind.introduction
    if missed_introduction and session.attendance is None:
        care = await load_care(ctx, session.client_id)
        offered = await _next_free_starts(ctx, session.therapist_id, care.client_windows if care else None)

    def decide(care: Care) -> Decision | None:
        now = ctx.now()
        current = care.known_session(session_id)
        if current.attendance is not None:
            if current.attendance is attendance:
                return None  # recorded already: the same answer changes nothing
            detail = f"the session's attendance was recorded as {current.attendance.value}"
            raise Conflict(
                detail, code="attendance_already_recorded", errors=[FieldProblem("body.attendance", detail)]
            )
        check_attendance(current.status, current.starts_at, now)
        held_introduction = attendance is Attendance.held and current.kind is SessionKind.introduction
        if held_introduction and not care.chose(current.therapist_id):
            raise Conflict(
                "the client has not chosen this therapist: a held introduction starts no care with them",
                code="not_chosen",
            )
        missed = attendance is Attendance.no_show
        recorded = replace(
            current,
            status=SessionStatus.no_show if missed else current.status,
            revision=current.revision + 1 if missed else current.revision,
            attendance=attendance,
            attendance_recorded_at=now,
            attendance_recorded_by=command.by,
            offered_slots=offered if missed_introduction else (),
            updated_at=now,
        )
        care = care.with_sessions(recorded)
        if held_introduction:
            care = start_routine(care, now)
        return Decision(care, [session_attendance_recorded(recorded, care, cause=None, now=now)])

    stored = await write_care(ctx, session.client_id, decide)
    return stored.known_session(session_id)


async def _next_free_starts(
    ctx: SchedulingContext, therapist_id: str, client: ClientWindows | None
) -> tuple[datetime, ...]:
    """The therapist's next free starts inside the client's windows (minimum notice, horizon)."""
    availability = await availability_of(ctx.stores.therapists, therapist_id)
    if availability is None:
        return ()
    now = ctx.now()
    calendar = Calendar(availability, await booked_of(ctx.stores.therapist_sessions, therapist_id), now=now)
    slots = calendar.free_slots(now, calendar.latest + timedelta(microseconds=1), client)
    return tuple(s.starts_at for s in slots[:OFFERED_SLOTS])
