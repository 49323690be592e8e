"""Availability and free slots: `/v1/therapists/{id}/availability`, `/v1/therapists/{id}/slots`.

Reading them is open to every person signed in (a client books from the slots); a service
needs `therapists:read`, as for matching's directory, which shows the same availability.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.scheduling.api.dependencies import Context, TherapistId
from services.scheduling.commands.set_availability import SetAvailability, set_availability
from services.scheduling.domain.slots import Calendar
from services.scheduling.store.therapist_sessions import booked_of
from services.scheduling.store.therapists import availability_of
from shared.http.auth import ensure_scope
from shared.http.dependencies import Caller, CorrelationId
from shared.http.scopes import AVAILABILITY_WRITE, THERAPISTS_READ
from shared.refusals import FieldProblem, Invalid, NotAllowed, NotFound

router = APIRouter(tags=["availability"])

MAX_SLOT_RANGE = timedelta(days=62)
DEFAULT_SLOT_RANGE = timedelta(days=14)

Clock = Annotated[str, Field(max_length=5, examples=["09:00"])]


class WeeklyRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: str = Field(max_length=9, examples=["monday"], description="monday … sunday (or mon … sun)")
    start: Clock
    end: Clock = Field(description="after start; 24:00 is the end of the day")


class ExceptionWindow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: Clock
    end: Clock


class DateException(BaseModel):
    """A date off (`off: true`), or a date with its own windows instead of the weekly rules."""

    model_config = ConfigDict(extra="forbid")

    date: date
    off: bool = False
    windows: list[ExceptionWindow] = Field(default_factory=list, max_length=12)


class AvailabilityIn(BaseModel):
    """Weekly rules and exceptions in the therapist's own IANA time zone, and booking policy."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(max_length=64, examples=["America/New_York"])
    weekly: list[WeeklyRule] = Field(max_length=100)
    exceptions: list[DateException] = Field(default_factory=list, max_length=366)
    session_minutes: int = Field(default=50, ge=15, le=240)
    buffer_before_minutes: int = Field(default=0, ge=0, le=120)
    buffer_after_minutes: int = Field(default=0, ge=0, le=120)
    min_notice_hours: int = Field(default=24, ge=0, le=720)
    horizon_days: int = Field(default=60, ge=1, le=365)
    daily_cap: int | None = Field(default=None, ge=1, le=24)
    slot_step_minutes: int = Field(default=30, ge=5, le=240)
    accepting_new_clients: bool = True


class AvailabilityOut(AvailabilityIn):
    therapist_id: str
    version: int
    updated_at: datetime


class SlotOut(BaseModel):
    starts_at: datetime
    ends_at: datetime


class SlotsOut(BaseModel):
    therapist_id: str
    timezone: str
    session_minutes: int
    slots: list[SlotOut]


def _out(therapist_id: str, document: dict[str, Any]) -> AvailabilityOut:
    return AvailabilityOut(
        therapist_id=therapist_id,
        version=document["version"],
        updated_at=document["updated_at"],
        **document["availability"],
    )


@router.put("/therapists/{therapist_id}/availability", response_model=AvailabilityOut)
async def put_availability(
    therapist_id: TherapistId, body: AvailabilityIn, who: Caller, ctx: Context, correlation: CorrelationId
) -> AvailabilityOut:
    """Set a therapist's availability (the therapist or an admin).

    Every change publishes `therapist-availability-changed`; booked sessions stay.
    """
    ensure_scope(who, AVAILABILITY_WRITE)
    if not who.may_act_for_therapist(therapist_id, AVAILABILITY_WRITE):
        raise NotAllowed("only the therapist or an admin may set this availability")
    command = SetAvailability(therapist_id, body.model_dump(mode="json"), correlation_id=correlation)
    stored = await set_availability(command, ctx)
    return _out(therapist_id, stored)


@router.get("/therapists/{therapist_id}/availability", response_model=AvailabilityOut)
async def get_availability(therapist_id: TherapistId, who: Caller, ctx: Context) -> AvailabilityOut:
    ensure_scope(who, THERAPISTS_READ)
    document = await ctx.stores.therapists.get(therapist_id)
    if document is None:
        raise _unpublished(therapist_id)
    return _out(therapist_id, document)


@router.get("/therapists/{therapist_id}/slots", response_model=SlotsOut)
async def get_slots(
    therapist_id: TherapistId,
    who: Caller,
    ctx: Context,
    from_: Annotated[
        AwareDatetime | None, Query(alias="from", description="UTC instant; default now")
    ] = None,
    to: Annotated[
        AwareDatetime | None, Query(description="UTC instant; default 14 days after `from`")
    ] = None,
) -> SlotsOut:
    """Free slots starting in [from, to): offered, not booked, past the notice, within the horizon."""
    ensure_scope(who, THERAPISTS_READ)
    availability = await availability_of(ctx.stores.therapists, therapist_id)
    if availability is None:
        raise _unpublished(therapist_id)
    now = ctx.now()
    start = from_ or now
    end = to or start + DEFAULT_SLOT_RANGE
    if end <= start:
        raise _bad_range("must be after from")
    if end - start > MAX_SLOT_RANGE:
        raise _bad_range(f"at most {MAX_SLOT_RANGE.days} days after from")
    calendar = Calendar(availability, await booked_of(ctx.stores.therapist_sessions, therapist_id), now=now)
    slots = calendar.free_slots(start, end)
    return SlotsOut(
        therapist_id=therapist_id,
        timezone=availability.timezone,
        session_minutes=availability.session_minutes,
        slots=[SlotOut(starts_at=s.starts_at, ends_at=s.ends_at) for s in slots],
    )


def _unpublished(therapist_id: str) -> NotFound:
    return NotFound(f"therapist {therapist_id!r} has published no availability")


def _bad_range(message: str) -> Invalid:
    return Invalid([FieldProblem("query.to", message)])
