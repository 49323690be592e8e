"""Sessions: book a given slot, list, move, cancel, mark a no-show."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from services.scheduling.api.access import (
    ID_PATTERN,
    ClientId,
    Context,
    SessionId,
    TherapistId,
    care_of,
    forbidden,
    may_act_on_session,
    may_see_client,
    session_of,
)
from services.scheduling.commands.book_session import book_session
from services.scheduling.commands.cancel_session import cancel_session, mark_no_show
from services.scheduling.commands.events import Actor
from services.scheduling.commands.reschedule_session import reschedule_session
from services.scheduling.domain.cancellation import CancelledBy
from services.scheduling.domain.care import Care, Session
from services.scheduling.store.therapist_sessions import sessions_of
from shared.events.common import SessionFormat, TimeZoneName
from shared.http.auth import Principal, Role
from shared.http.dependencies import Audit, Caller

router = APIRouter(tags=["sessions"])

IdIn = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=128)]
CodeIn = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


class BookIn(BaseModel):
    """A slot as `GET /v1/therapists/{id}/slots` lists it."""

    model_config = ConfigDict(extra="forbid")

    client_id: IdIn
    therapist_id: IdIn
    starts_at: AwareDatetime
    format: SessionFormat | None = None
    timezone: TimeZoneName | None = Field(default=None, description="the client's zone, for display")


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

    @classmethod
    def of(cls, session: Session) -> SessionOut:
        return cls(**{name: getattr(session, name) for name in cls.model_fields})


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
async def post_session(body: BookIn, who: Caller, ctx: Context) -> SessionOut:
    """Book a given slot (the client or an admin): 201, or 409 when it is taken or not offered."""
    if who.role is Role.clinician or not who.may_act_for_client(body.client_id):
        raise forbidden("only the client or an admin may book this client's session")
    session = await book_session(
        ctx,
        client_id=body.client_id,
        therapist_id=body.therapist_id,
        starts_at=body.starts_at,
        session_format=body.format.value if body.format else None,
        timezone=body.timezone,
    )
    return SessionOut.of(session)


@router.get("/sessions/{session_id}", response_model=SessionOut)
async def get_session(session_id: SessionId, who: Caller, audit: Audit, ctx: Context) -> SessionOut:
    session = await session_of(ctx, session_id)
    if not may_act_on_session(who, session):
        raise forbidden("only the session's client, clinician or an admin may read it")
    await audit.read(resource="session", resource_id=session_id, client_id=session.client_id)
    return SessionOut.of(session)


@router.post("/sessions/{session_id}/reschedule", response_model=SessionOut)
async def post_reschedule(session_id: SessionId, body: RescheduleIn, who: Caller, ctx: Context) -> SessionOut:
    """Move a session to another free slot of its therapist (409 when taken, 422 when too soon or far)."""
    session = await session_of(ctx, session_id)
    if not may_act_on_session(who, session):
        raise forbidden("only the session's client, clinician or an admin may move it")
    moved = await reschedule_session(ctx, session, body.starts_at, by=_actor(who))
    return SessionOut.of(moved)


@router.post("/sessions/{session_id}/cancel", response_model=SessionOut)
async def post_cancel(session_id: SessionId, body: CancelIn, who: Caller, ctx: Context) -> SessionOut:
    """Cancel and free the slot.

    A client's cancellation within 24 h is `late_cancelled`; a clinician's is `clinician_cancelled`.
    """
    session = await session_of(ctx, session_id)
    if not may_act_on_session(who, session):
        raise forbidden("only the session's client, clinician or an admin may cancel it")
    by = CancelledBy(_actor(who))
    if who.is_privileged and body.on_behalf_of is not None:
        by = CancelledBy(body.on_behalf_of)
    return SessionOut.of(await cancel_session(ctx, session, by=by, reason=body.reason))


@router.post("/sessions/{session_id}/no-show", response_model=SessionOut)
async def post_no_show(session_id: SessionId, who: Caller, ctx: Context) -> SessionOut:
    """Mark that the client did not come (the clinician or an admin, once the session has started)."""
    session = await session_of(ctx, session_id)
    if not who.may_act_for_therapist(session.therapist_id):
        raise forbidden("only the session's clinician or an admin may mark a no-show")
    return SessionOut.of(await mark_no_show(ctx, session))


@router.get("/clients/{client_id}/sessions", response_model=ClientSessionsOut)
async def get_client_sessions(
    client_id: ClientId, who: Caller, audit: Audit, ctx: Context
) -> ClientSessionsOut:
    """The client's sessions, their series (with occurrences it could not place) and check-ins."""
    care = await care_of(ctx, client_id)
    if not may_see_client(who, care):
        raise forbidden("only the client, their clinicians or an admin may list these sessions")
    await audit.read(resource="sessions", resource_id=client_id, client_id=client_id)
    return _client_sessions(care)


@router.get("/therapists/{therapist_id}/sessions", response_model=TherapistSessionsOut)
async def get_therapist_sessions(
    therapist_id: TherapistId, who: Caller, audit: Audit, ctx: Context
) -> TherapistSessionsOut:
    """The therapist's sessions with every client."""
    if not who.may_act_for_therapist(therapist_id):
        raise forbidden("only the therapist or an admin may list these sessions")
    await audit.read(resource="therapist_sessions", resource_id=therapist_id)
    sessions = await sessions_of(ctx.stores.therapist_sessions, therapist_id)
    return TherapistSessionsOut(therapist_id=therapist_id, sessions=[SessionOut.of(s) for s in sessions])


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
