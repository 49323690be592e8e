"""iCalendar feeds: `/v1/clients/{id}/calendar.ics` and `/v1/therapists/{id}/calendar.ics`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.scheduling.api.access import client_record
from services.scheduling.api.dependencies import ClientId, Context, TherapistId
from services.scheduling.domain.ical import calendar_feed
from services.scheduling.store.therapist_sessions import sessions_of
from shared.http.dependencies import Audit, Caller
from shared.refusals import NotAllowed

router = APIRouter(tags=["calendars"])

ICS = "text/calendar; charset=utf-8"
_ICS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/calendar": {}}, "description": "an iCalendar (RFC 5545) feed"}
}


@router.get("/clients/{client_id}/calendar.ics", response_class=Response, responses=_ICS_RESPONSE)
async def client_calendar(client_id: ClientId, who: Caller, audit: Audit, ctx: Context) -> Response:
    """The client's sessions; a moved session keeps its UID and gets a higher SEQUENCE.

    The client, admins, and a clinician the client chose or is in care with; 404 otherwise.
    """
    care = await client_record(ctx, audit, client_id, resource="calendar")
    feed = calendar_feed(
        care.sessions, name="Carepath sessions", feed_id=f"client-{client_id}", now=ctx.now()
    )
    return Response(feed, media_type=ICS)


@router.get("/therapists/{therapist_id}/calendar.ics", response_class=Response, responses=_ICS_RESPONSE)
async def therapist_calendar(therapist_id: TherapistId, who: Caller, audit: Audit, ctx: Context) -> Response:
    """The therapist's own sessions with every client (no names: ids and times only).

    With a client whose care with them is over: only the sessions that started before the end.
    """
    if not who.may_act_for_therapist(therapist_id):
        raise NotAllowed("only the therapist or an admin may read this calendar")
    await audit.read(resource="therapist_calendar", resource_id=therapist_id)
    sessions = await sessions_of(ctx.stores.therapist_sessions, therapist_id)
    feed = calendar_feed(
        sessions, name="Carepath sessions", feed_id=f"therapist-{therapist_id}", now=ctx.now()
    )
    return Response(feed, media_type=ICS)
