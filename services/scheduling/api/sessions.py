"""Sessions: book a given slot, list, move, cancel, record attendance.

Every route that reaches a client's sessions follows the care relationship
(`api/access.py`): refused callers get 404 as if nothing existed, and the refusal is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from services.scheduling.api.access import audit_override, client_record, session_in_reach
from services.scheduling.api.dependencies import ClientId, Context, SessionId, TherapistId
from services.scheduling.commands.book_session import BookSession, book_session
from services.scheduling.commands.cancel_session import CancelSession, cancel_session
from services.scheduling.commands.record_attendance import RecordAttendance, record_attendance
from services.scheduling.commands.reschedule_session import RescheduleSession, reschedule_session
from services.scheduling.context import SchedulingContext
from services.scheduling.domain.cancellation import CancelledBy
from services.scheduling.domain.care import Attendance, Care, Session
from services.scheduling.domain.events import Actor, Booker
from services.scheduling.store.therapist_sessions import sessions_of
from shared.events.common import ID_PATTERN, SessionFormat, TimeZoneName
from shared.http.auth import Principal, Role, ensure_scope
from shared.http.dependencies import Audit, AuditedRead, Caller
from shared.http.scopes import SESSIONS_READ, SESSIONS_WRITE
from shared.refusals import NotAllowed

router = APIRouter(tags=["sessions"])

IdIn = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=128)]
CodeIn = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


class BookIn(BaseModel):
    """A slot as `GET /v1/therapists/{id}/slots` lists it, with a therapist the client may book."""

    model_config = ConfigDict(extra="forbid")

    client_id: IdIn
    therapist_id: IdIn
    starts_at: AwareDatetime
    format: SessionFormat | None = None
    timezone: TimeZoneName | None = Field(default=None, description="the client's zone, for display")
    override_reason: CodeIn | None = Field(
        default=None,
        description="admins only: why this booking goes outside the client's consent (a code); "
        "kept on the session and in the audit trail",
    )


class AttendanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attendance: Literal["held", "no_show"]


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: CodeIn | None = None
    on_behalf_of: Literal["client", "clinician"] | None = Field(
        default=None, description="admins only: whose cancellation it is (the system's by default)"
    )


class SessionOut(BaseModel):
    session_id: str
    client_id: str
    therapist_id: str
    series_id: str
    sequence: int
    kind: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    format: str
    join_url: str
    status: str
    revision: int
    match_id: str | None = None
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    booked_by: str | None = Field(default=None, description="client, clinician, admin or system")
    override_reason: str | None = Field(
        default=None, description="why an admin booked it outside the client's consent"
    )
    attendance: Literal["held", "no_show"] | None = None
    attendance_recorded_at: datetime | None = None
    offered_slots: list[datetime] = Field(
        default_factory=list, description="a missed introduction: the next starts offered to the client"
    )

    @classmethod
    def of(cls, session: Session) -> SessionOut:
        fields = {name: getattr(session, name) for name in cls.model_fields}
        fields["offered_slots"] = list(session.offered_slots)
        return cls(**fields)


class UnplacedOut(BaseModel):
    target: datetime
    reason: str


class SeriesOut(BaseModel):
    series_id: str
    therapist_id: str
    cadence: str
    status: str
    unplaced: list[UnplacedOut] = Field(description="occurrences that found no free slot nearby")


class CheckInsOut(BaseModel):
    status: str
    interval_days: int
    next_due_at: datetime | None


class ClientSessionsOut(BaseModel):
    client_id: str
    sessions: list[SessionOut]
    series: SeriesOut | None = None
    check_ins: CheckInsOut | None = None


class TherapistSessionsOut(BaseModel):
    therapist_id: str
    sessions: list[SessionOut]


@router.post("/sessions", status_code=status.HTTP_201_CREATED, response_model=SessionOut)
async def post_session(body: BookIn, who: Caller, audit: Audit, ctx: Context) -> SessionOut:
    """Book a given slot (the client or an admin): 201, or 409/422 naming why not.

    A client books only with a therapist proposed to them (unexpired) or one they chose or
    are in care with; otherwise 409 `therapist_not_proposed` with the `reason`. Their booking
    of a proposed therapist's slot is their choice of that therapist (`booked_by: client`).
    An admin may book outside consent only with an `override_reason`. 409 also when the slot
    is taken or not offered, 422 when too soon or too far.
    """
    ensure_scope(who, SESSIONS_WRITE)
    if who.role is Role.clinician or not who.may_act_for_client(body.client_id, SESSIONS_WRITE):
        raise NotAllowed("only the client or an admin may book this client's session")
    command = BookSession(
        client_id=body.client_id,
        therapist_id=body.therapist_id,
        starts_at=body.starts_at,
        booked_by=_booker(who),
        override_reason=body.override_reason,
        session_format=body.format.value if body.format else None,
        timezone=body.timezone,
    )
    session = await book_session(command, ctx)
    if session.override_reason is not None:
        await audit_override(audit, session)
    return SessionOut.of(session)


@router.get("/sessions/{session_id}", response_model=SessionOut)
async def get_session(session_id: SessionId, who: Caller, audit: Audit, ctx: Context) -> SessionOut:
    """One session (its client, its clinician while chosen or in care, or their own past one, admins)."""
    session, basis = await session_in_reach(ctx, audit, session_id, acting=False)
    await audit.read(resource="session", resource_id=session_id, client_id=session.client_id, basis=basis)
    return SessionOut.of(session)


@router.post("/sessions/{session_id}/reschedule", response_model=SessionOut)
async def post_reschedule(
    session_id: SessionId, body: RescheduleIn, who: Caller, audit: Audit, ctx: Context
) -> SessionOut:
    """Move a session to another free slot of its therapist (409 when taken, 422 when too soon or far)."""
    session, _ = await session_in_reach(ctx, audit, session_id, acting=True)
    moved = await reschedule_session(RescheduleSession(session, body.starts_at, by=_actor(who)), ctx)
    return SessionOut.of(moved)


@router.post("/sessions/{session_id}/cancel", response_model=SessionOut)
async def post_cancel(
    session_id: SessionId, body: CancelIn, who: Caller, audit: Audit, ctx: Context
) -> SessionOut:
    """Cancel and free the slot.

    A client's cancellation within 24 h is `late_cancelled`; a clinician's is `clinician_cancelled`.
    """
    session, _ = await session_in_reach(ctx, audit, session_id, acting=True)
    by = CancelledBy(_actor(who))
    if who.holds(SESSIONS_WRITE) and body.on_behalf_of is not None:
        by = CancelledBy(body.on_behalf_of)
    return SessionOut.of(await cancel_session(CancelSession(session, by, body.reason), ctx))


@router.post("/sessions/{session_id}/attendance", response_model=SessionOut)
async def post_attendance(
    session_id: SessionId, body: AttendanceIn, who: Caller, audit: Audit, ctx: Context
) -> SessionOut:
    """Record whether the session took place (its clinician or an admin, once it has started).

    Publishes `session-attendance-recorded`. A held introduction puts the client in care
    (409 `not_chosen` for a therapist the client did not choose); a missed one starts no
    care and offers the client the therapist's next free starts (`offered_slots`). The same
    answer again changes nothing; a different one is 409 `attendance_already_recorded`.
    """
    return await _record(session_id, Attendance(body.attendance), who, audit, ctx)


@router.post("/sessions/{session_id}/no-show", response_model=SessionOut, deprecated=True)
async def post_no_show(session_id: SessionId, who: Caller, audit: Audit, ctx: Context) -> SessionOut:
    """The same as `POST /sessions/{id}/attendance {"attendance": "no_show"}`."""
    return await _record(session_id, Attendance.no_show, who, audit, ctx)


@router.get("/clients/{client_id}/sessions", response_model=ClientSessionsOut)
async def get_client_sessions(
    client_id: ClientId, who: Caller, audit: Audit, ctx: Context
) -> ClientSessionsOut:
    """The client's sessions, their series (with occurrences it could not place) and check-ins.

    The client, admins, and a clinician the client chose or is in care with; 404 otherwise.
    """
    care = await client_record(ctx, audit, client_id, resource="sessions")
    return _client_sessions(care)


@router.get("/therapists/{therapist_id}/sessions", response_model=TherapistSessionsOut)
async def get_therapist_sessions(
    therapist_id: TherapistId, who: Caller, audit: Audit, ctx: Context
) -> TherapistSessionsOut:
    """The therapist's own sessions with every client (with a former client: those before the end),
    from those that ended eight weeks ago on; a client's sessions endpoint keeps all of theirs."""
    ensure_scope(who, SESSIONS_READ)
    if not who.may_act_for_therapist(therapist_id, SESSIONS_READ):
        raise NotAllowed("only the therapist or an admin may list these sessions")
    await audit.read(resource="therapist_sessions", resource_id=therapist_id)
    sessions = await sessions_of(ctx.stores.therapist_sessions, therapist_id, now=ctx.now())
    return TherapistSessionsOut(therapist_id=therapist_id, sessions=[SessionOut.of(s) for s in sessions])


async def _record(
    session_id: str, attendance: Attendance, who: Principal, audit: AuditedRead, ctx: SchedulingContext
) -> SessionOut:
    if who.role is Role.client:
        raise NotAllowed("only the session's clinician or an admin may record its attendance")
    session, _ = await session_in_reach(ctx, audit, session_id, acting=True)
    recorded = await record_attendance(RecordAttendance(session, attendance, by=_booker(who)), ctx)
    return SessionOut.of(recorded)


_BOOKERS: dict[Role, Booker] = {Role.client: "client", Role.clinician: "clinician", Role.admin: "admin"}


def _booker(who: Principal) -> Booker:
    """Who books or records, as events name them (another service acts as the system)."""
    return _BOOKERS.get(who.role, "system")


def _actor(who: Principal) -> Actor:
    if who.role is Role.client:
        return "client"
    if who.role is Role.clinician:
        return "clinician"
    return "system"


def _client_sessions(care: Care) -> ClientSessionsOut:
    series = care.series
    check_ins = care.check_ins
    return ClientSessionsOut(
        client_id=care.client_id,
        sessions=[SessionOut.of(s) for s in care.sessions],
        series=None
        if series is None
        else SeriesOut(
            series_id=series.series_id,
            therapist_id=series.therapist_id,
            cadence=series.cadence.value,
            status=series.status.value,
            unplaced=[UnplacedOut(target=u.target, reason=u.reason) for u in series.unplaced],
        ),
        check_ins=None
        if check_ins is None
        else CheckInsOut(
            status=check_ins.status.value, interval_days=check_ins.interval_days, next_due_at=check_ins.due_at
        ),
    )
