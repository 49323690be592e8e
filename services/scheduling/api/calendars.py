"""iCalendar feeds: `/v1/clients/{id}/calendar.ics` and `/v1/therapists/{id}/calendar.ics`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.scheduling.api.access import ClientId, Context, TherapistId, care_of, forbidden, may_see_client
from services.scheduling.domain.ical import calendar_feed
from services.scheduling.store.therapist_sessions import sessions_of
from shared.http.dependencies import Audit, Caller

router = APIRouter(tags=["calendars"])

ICS = "text/calendar; charset=utf-8"
_ICS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/calendar": {}}, "description": "an iCalendar (RFC 5545) feed"}
}


@router.get("/clients/{client_id}/calendar.ics", response_class=Response, responses=_ICS_RESPONSE)
async def client_calendar(client_id: ClientId, who: Caller, audit: Audit, ctx: Context) -> Response:
    """The client's sessions; a moved session keeps its UID and gets a higher SEQUENCE."""
    care = await care_of(ctx, client_id)
    if not may_see_client(who, care):
        raise forbidden("only the client, their clinicians or an admin may read this calendar")
    await audit.read(resource="calendar", resource_id=client_id, client_id=client_id)
    feed = calendar_feed(
        care.sessions, name="Carepath sessions", feed_id=f"client-{client_id}", now=ctx.now()
    )
    return Response(feed, media_type=ICS)


@router.get("/therapists/{therapist_id}/calendar.ics", response_class=Response, responses=_ICS_RESPONSE)
async def therapist_calendar(therapist_id: TherapistId, who: Caller, audit: Audit, ctx: Context) -> Response:
    """The therapist's sessions with every client (no names: ids and times only)."""
    if not who.may_act_for_therapist(therapist_id):
        raise forbidden("only the therapist or an admin may read this calendar")
    await audit.read(resource="therapist_calendar", resource_id=therapist_id)
    sessions = await sessions_of(ctx.stores.therapist_sessions, therapist_id)
    feed = calendar_feed(
        sessions, name="Carepath sessions", feed_id=f"therapist-{therapist_id}", now=ctx.now()
    )
    return Response(feed, media_type=ICS)
