"""The therapist directory: admins write it; admins, services (`therapists:read`) and the therapist read it.

Listing is served from this replica's in-process read model (filtered there, by id), and
only the page is read from MongoDB, by `_id`: no collection scan per request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel

from services.matching.api.dependencies import Context, TherapistId
from services.matching.commands.put_therapist import PutTherapist, put_therapist
from services.matching.domain.profile import TherapistProfile
from services.matching.store.therapists import capacity_of
from shared.events.common import Concern, WeeklyWindow
from shared.http.auth import ensure_scope
from shared.http.dependencies import Admin, Caller, requires_scope
from shared.http.scopes import THERAPISTS_READ
from shared.refusals import NotAllowed, NotFound

router = APIRouter(tags=["therapists"])


class AvailabilityView(BaseModel):
    timezone: str
    weekly: list[WeeklyWindow]
    accepting_new_clients: bool
    open_slots_next_14_days: int
    changed_at: datetime


class TherapistView(BaseModel):
    """A directory entry: the profile as put, and what matching derived (counts, never client ids)."""

    therapist_id: str
    profile: TherapistProfile
    caseload: int
    holds: int
    free_capacity: int
    availability: AvailabilityView | None
    revision: int
    updated_at: datetime


class TherapistPage(BaseModel):
    items: list[TherapistView]
    page: int
    page_size: int
    total: int


def therapist_view(document: dict[str, Any], now: datetime) -> TherapistView:
    profile = TherapistProfile.model_validate(document["profile"])
    capacity = capacity_of(document)
    availability = document.get("availability")
    return TherapistView(
        therapist_id=document["_id"],
        profile=profile,
        caseload=len(capacity.caseload),
        holds=capacity.live_holds(now),
        free_capacity=capacity.free(profile.capacity, now),
        availability=AvailabilityView.model_validate(availability) if availability else None,
        revision=int(document.get("revision", 0)),
        updated_at=document["updated_at"],
    )


@router.put(
    "/therapists/{therapist_id}",
    response_model=TherapistView,
    responses={201: {"model": TherapistView, "description": "created"}},
    summary="Create a therapist or replace their profile (admins only)",
)
async def put(
    therapist_id: TherapistId,
    profile: TherapistProfile,
    who: Admin,
    ctx: Context,
    response: Response,
) -> TherapistView:
    result = await put_therapist(PutTherapist(therapist_id, profile), ctx)
    if result.created:
        response.status_code = status.HTTP_201_CREATED
    return therapist_view(result.therapist, ctx.clock())


@router.get(
    "/therapists/{therapist_id}", response_model=TherapistView, summary="A therapist's directory entry"
)
async def read(therapist_id: TherapistId, who: Caller, ctx: Context) -> TherapistView:
    ensure_scope(who, THERAPISTS_READ)
    if not who.may_act_for_therapist(therapist_id, THERAPISTS_READ):
        raise NotAllowed("only admins, services and the therapist themselves may read this entry")
    document = await ctx.therapists.get(therapist_id)
    if document is None or not document.get("profile"):
        raise NotFound(f"no therapist {therapist_id} in the directory")
    return therapist_view(document, ctx.clock())


@router.get(
    "/therapists",
    response_model=TherapistPage,
    dependencies=[Depends(requires_scope(THERAPISTS_READ))],
    summary="List the directory, filtered, by therapist id",
)
async def listing(
    ctx: Context,
    jurisdiction: Annotated[
        str | None, Query(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$", description="licensed to see clients there")
    ] = None,
    language: Annotated[str | None, Query(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")] = None,
    concern: Annotated[Concern | None, Query(description="specialises in it")] = None,
    accepting: Annotated[bool | None, Query(description="accepting new clients")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> TherapistPage:
    index = await ctx.directory.current()
    found = index.listing(
        jurisdiction=jurisdiction,
        language=language,
        concern=concern.value if concern else None,
        accepting=accepting,
    )
    now = ctx.clock()
    items = []
    for therapist in found[(page - 1) * page_size : page * page_size]:
        document = await ctx.therapists.get(therapist.id)
        if document is not None and document.get("profile"):
            items.append(therapist_view(document, now))
    return TherapistPage(items=items, page=page, page_size=page_size, total=len(found))
