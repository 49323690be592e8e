"""iCalendar feeds: a person's calendar with a Bearer token, or at a secret URL calendar apps subscribe to.

- `GET /clients/{id}/calendar.ics`, `GET /therapists/{id}/calendar.ics`: with a token; who
  may read which calendar is the care relationship's rule (`api/access.py`);
- `POST /clients/{id}/calendar-feeds`, `POST /therapists/{id}/calendar-feeds` (the person
  themself or an admin): a secret URL, `GET /calendar-feeds/{token}.ics`, for apps that
  cannot sign in; `GET` on the same path lists the person's feeds (never their URLs) and
  `DELETE .../calendar-feeds/{feed_id}` revokes one (its URL answers 404 from then on).

A feed shows exactly what its owner's own calendar shows (`_client_calendar`,
`_therapist_calendar`, rendered by `domain/ical.py`), and every read of a calendar either
way is in the audit trail: a feed's with its owner as the actor and the feed as the basis.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.scheduling.api.access import client_record
from services.scheduling.api.dependencies import ClientId, Context, TherapistId
from services.scheduling.commands.create_calendar_feed import CreateCalendarFeed, create_calendar_feed
from services.scheduling.commands.revoke_calendar_feed import RevokeCalendarFeed, revoke_calendar_feed
from services.scheduling.context import SchedulingContext
from services.scheduling.domain.calendar_feeds import TOKEN_PATTERN, CalendarFeed, CalendarOf
from services.scheduling.domain.care import Session
from services.scheduling.domain.ical import calendar_feed
from services.scheduling.store.calendar_feeds import feed_of_token, feeds_of
from services.scheduling.store.clients import care_of
from services.scheduling.store.therapist_sessions import sessions_of
from shared.http.auth import Principal, Role, ensure_scope
from shared.http.dependencies import Audit, AuditedRead, Caller, CorrelationId, Runtime
from shared.http.scopes import SESSIONS_READ
from shared.observability.audit import Access
from shared.refusals import NotAllowed, NotFound

router = APIRouter(tags=["calendars"])

ICS = "text/calendar; charset=utf-8"
CALENDAR_NAME = "Carepath sessions"
_ICS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/calendar": {}}, "description": "an iCalendar (RFC 5545) feed"}
}
_OWNER_ROLES = {CalendarOf.client: Role.client, CalendarOf.therapist: Role.clinician}

FeedToken = Annotated[str, Path(pattern=TOKEN_PATTERN, description="the secret token of the feed's URL")]
FeedId = Annotated[str, Path(pattern=r"^cf_[0-9a-f]{24}$", description="a feed's id, as made or listed")]


class CalendarFeedOut(BaseModel):
    feed_id: str
    calendar_of: CalendarOf = Field(description="whose calendar: a client's sessions or a therapist's own")
    owner_id: str
    created_at: datetime
    created_by: str = Field(description="who made it: the owner or an admin")

    @classmethod
    def of(cls, feed: CalendarFeed) -> CalendarFeedOut:
        return cls(
            feed_id=feed.feed_id,
            calendar_of=feed.calendar_of,
            owner_id=feed.owner_id,
            created_at=feed.created_at,
            created_by=feed.created_by,
        )


class IssuedFeedOut(CalendarFeedOut):
    url: str = Field(
        description="the secret URL to subscribe to (no token needed): shown only now, keep it private"
    )


class CalendarFeedsOut(BaseModel):
    feeds: list[CalendarFeedOut]


# --------------------------------------------------------------------------- with a token


@router.get("/clients/{client_id}/calendar.ics", response_class=Response, responses=_ICS_RESPONSE)
async def client_calendar(client_id: ClientId, who: Caller, audit: Audit, ctx: Context) -> Response:
    """The client's sessions; a moved session keeps its UID and gets a higher SEQUENCE.

    The client, admins, and a clinician the client chose or is in care with; 404 otherwise.
    Only a video session carries a join link.
    """
    care = await client_record(ctx, audit, client_id, resource="calendar")
    return _ics(_client_calendar(client_id, care.sessions, ctx))


@router.get("/therapists/{therapist_id}/calendar.ics", response_class=Response, responses=_ICS_RESPONSE)
async def therapist_calendar(therapist_id: TherapistId, who: Caller, audit: Audit, ctx: Context) -> Response:
    """The therapist's own sessions with every client (no names: ids and times only).

    With a client whose care with them is over: only the sessions that started before the end.
    """
    ensure_scope(who, SESSIONS_READ)
    if not who.may_act_for_therapist(therapist_id, SESSIONS_READ):
        raise NotAllowed("only the therapist or an admin may read this calendar")
    await audit.read(resource="therapist_calendar", resource_id=therapist_id)
    return _ics(await _therapist_calendar(therapist_id, ctx))


# --------------------------------------------------------------------------- at a secret URL


@router.get(
    "/calendar-feeds/{token}.ics",
    name="calendar_feed",
    response_class=Response,
    responses={**_ICS_RESPONSE, 404: {"description": "no such feed: unknown, or revoked"}},
)
async def calendar_feed_by_token(
    token: FeedToken, runtime: Runtime, correlation_id: CorrelationId, ctx: Context
) -> Response:
    """The calendar of the feed's owner, for calendar apps: the URL is the credential (no Bearer token).

    Exactly what the owner's own `calendar.ics` shows; 404 for a revoked or unknown feed.
    """
    feed = await feed_of_token(ctx.stores.calendar_feeds, token)
    if feed is None:
        raise NotFound("no such calendar feed")
    owner = Principal(subject=feed.owner_id, role=_OWNER_ROLES[feed.calendar_of])
    audit = AuditedRead(who=owner, correlation_id=correlation_id, log=runtime.audit)
    basis = f"calendar_feed:{feed.feed_id}"
    if feed.calendar_of is CalendarOf.client:
        await audit.read(resource="calendar", resource_id=feed.owner_id, client_id=feed.owner_id, basis=basis)
        care = await care_of(ctx, feed.owner_id)
        feed_body = _client_calendar(feed.owner_id, care.sessions, ctx)
    else:
        await audit.read(resource="therapist_calendar", resource_id=feed.owner_id, basis=basis)
        feed_body = await _therapist_calendar(feed.owner_id, ctx)
    # The URL is a secret: no shared cache may keep what it answers.
    return _ics(feed_body, headers={"Cache-Control": "private, no-store"})


@router.post(
    "/clients/{client_id}/calendar-feeds", status_code=status.HTTP_201_CREATED, response_model=IssuedFeedOut
)
async def post_client_calendar_feed(
    client_id: ClientId, request: Request, who: Caller, audit: Audit, ctx: Context
) -> IssuedFeedOut:
    """A secret URL of the client's calendar for calendar apps (the client or an admin).

    Shows what `GET /clients/{id}/calendar.ics` shows the client; the URL is returned only now.
    """
    return await _issue(CalendarOf.client, client_id, request, who, audit, ctx)


@router.post(
    "/therapists/{therapist_id}/calendar-feeds",
    status_code=status.HTTP_201_CREATED,
    response_model=IssuedFeedOut,
)
async def post_therapist_calendar_feed(
    therapist_id: TherapistId, request: Request, who: Caller, audit: Audit, ctx: Context
) -> IssuedFeedOut:
    """A secret URL of the therapist's own calendar for calendar apps (the therapist or an admin)."""
    return await _issue(CalendarOf.therapist, therapist_id, request, who, audit, ctx)


@router.get("/clients/{client_id}/calendar-feeds", response_model=CalendarFeedsOut)
async def get_client_calendar_feeds(client_id: ClientId, who: Caller, ctx: Context) -> CalendarFeedsOut:
    """The client's feeds, to revoke one (ids only: a feed's URL is never shown again)."""
    return await _listed(CalendarOf.client, client_id, who, ctx)


@router.get("/therapists/{therapist_id}/calendar-feeds", response_model=CalendarFeedsOut)
async def get_therapist_calendar_feeds(
    therapist_id: TherapistId, who: Caller, ctx: Context
) -> CalendarFeedsOut:
    """The therapist's feeds, to revoke one (ids only: a feed's URL is never shown again)."""
    return await _listed(CalendarOf.therapist, therapist_id, who, ctx)


@router.delete("/clients/{client_id}/calendar-feeds/{feed_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_client_calendar_feed(
    client_id: ClientId, feed_id: FeedId, who: Caller, audit: Audit, ctx: Context
) -> Response:
    """Revoke the feed (the client or an admin): its URL answers 404 from now on."""
    return await _revoke(CalendarOf.client, client_id, feed_id, who, audit, ctx)


@router.delete("/therapists/{therapist_id}/calendar-feeds/{feed_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_therapist_calendar_feed(
    therapist_id: TherapistId, feed_id: FeedId, who: Caller, audit: Audit, ctx: Context
) -> Response:
    """Revoke the feed (the therapist or an admin): its URL answers 404 from now on."""
    return await _revoke(CalendarOf.therapist, therapist_id, feed_id, who, audit, ctx)


# --------------------------------------------------------------------------- one calendar, either way


def _client_calendar(client_id: str, sessions: Iterable[Session], ctx: SchedulingContext) -> bytes:
    return calendar_feed(sessions, name=CALENDAR_NAME, feed_id=f"client-{client_id}", now=ctx.now())


async def _therapist_calendar(therapist_id: str, ctx: SchedulingContext) -> bytes:
    sessions = await sessions_of(ctx.stores.therapist_sessions, therapist_id, now=ctx.now())
    return calendar_feed(sessions, name=CALENDAR_NAME, feed_id=f"therapist-{therapist_id}", now=ctx.now())


def _ics(body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, media_type=ICS, headers=headers)


def _ensure_owner_or_admin(who: Principal, calendar_of: CalendarOf, owner_id: str) -> None:
    """The person themself or an admin: a feed hands out the calendar, which nobody else may do."""
    if who.role is Role.admin or (who.role is _OWNER_ROLES[calendar_of] and who.subject == owner_id):
        return
    raise NotAllowed(f"only the {calendar_of.value} or an admin may manage their calendar feeds")


async def _issue(
    calendar_of: CalendarOf,
    owner_id: str,
    request: Request,
    who: Principal,
    audit: AuditedRead,
    ctx: SchedulingContext,
) -> IssuedFeedOut:
    _ensure_owner_or_admin(who, calendar_of, owner_id)
    issued = await create_calendar_feed(
        CreateCalendarFeed(calendar_of, owner_id, created_by=who.subject), ctx
    )
    await _audit_feed_change(audit, "create", calendar_of, owner_id, issued.feed.feed_id)
    url = str(request.url_for("calendar_feed", token=issued.token))
    return IssuedFeedOut(**CalendarFeedOut.of(issued.feed).model_dump(), url=url)


async def _listed(
    calendar_of: CalendarOf, owner_id: str, who: Principal, ctx: SchedulingContext
) -> CalendarFeedsOut:
    _ensure_owner_or_admin(who, calendar_of, owner_id)
    feeds = await feeds_of(ctx.stores.calendar_feeds, calendar_of, owner_id)
    return CalendarFeedsOut(feeds=[CalendarFeedOut.of(feed) for feed in feeds])


async def _revoke(
    calendar_of: CalendarOf,
    owner_id: str,
    feed_id: str,
    who: Principal,
    audit: AuditedRead,
    ctx: SchedulingContext,
) -> Response:
    _ensure_owner_or_admin(who, calendar_of, owner_id)
    await revoke_calendar_feed(RevokeCalendarFeed(calendar_of, owner_id, feed_id), ctx)
    await _audit_feed_change(audit, "revoke", calendar_of, owner_id, feed_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _audit_feed_change(
    audit: AuditedRead, action: str, calendar_of: CalendarOf, owner_id: str, feed_id: str
) -> None:
    """A feed made or revoked, in the audit trail: it grants (or stops granting) reads of a calendar."""
    entry = Access(
        actor=audit.who.subject,
        role=audit.who.role.value,
        action=action,
        resource="calendar_feed",
        resource_id=feed_id,
        client_id=owner_id if calendar_of is CalendarOf.client else None,
        correlation_id=audit.correlation_id,
        basis="admin" if audit.who.role is Role.admin else "own_calendar",
    )
    await audit.log.record(entry)
