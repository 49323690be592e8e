"""Client choice: list proposals, accept, decline, switch therapist.

Reading a client's matches is reading their record (the reasons reveal clinical concerns),
so it follows the care relationship (`shared.care.access`): the client, an admin or a
service holding `matches:read`, and a therapist the client chose or is in care with. A
therapist only proposed, one whose care ended, and anyone else get 404, exactly as for a
match or client that does not exist (the match is looked up first, then the caller's
access decided, so a refusal reveals nothing); every grant and refusal is audited. Only
the client themselves, an admin or a service holding `matches:write` accept, decline or
switch (a service without it gets 403 naming the scope); a client acting on someone
else's match gets the same 404 as for a missing one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from services.matching.api.dependencies import ClientId, Context, MatchId
from services.matching.commands.accept_match import AcceptMatch, accept_match
from services.matching.commands.decline_match import DeclineMatch, decline_match
from services.matching.commands.switch_therapist import SWITCH_REASON, SwitchTherapist, switch_therapist
from services.matching.context import MatchingContext
from services.matching.store import clients as client_store
from shared.care.access import ensure_read
from shared.events.common import Candidate, Code, Id
from shared.http.auth import Principal, Role, ensure_scope
from shared.http.dependencies import Audit, AuditedRead, Caller
from shared.http.scopes import MATCHES_READ, MATCHES_WRITE
from shared.refusals import NotAllowed, NotFound

router = APIRouter(tags=["matches"])

ACTORS = (Role.client, Role.admin, Role.service)


class MatchView(BaseModel):
    match_id: str
    client_id: str
    intake_id: str
    status: str
    origin: str
    sequence: int
    candidates: list[Candidate]
    reasons: list[str]
    session_format: str
    created_at: datetime
    expires_at: datetime
    accepted_therapist_id: str | None = None
    booked_therapist_id: str | None = None
    declined_therapist_ids: list[str] = []
    predecessor: str | None = None
    successor: str | None = None
    waitlisted: bool = False
    """No candidates: the client was put on the waitlist with this proposal."""


class MatchList(BaseModel):
    client_id: str
    current_match_id: str | None
    waitlisted: bool = False
    """The client waits on the waitlist: nobody could take them yet; they are re-matched,
    oldest first, when a therapist's availability or capacity changes."""
    waitlisted_since: datetime | None = None
    items: list[MatchView]


class AcceptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    therapist_id: Id | None = None
    """Which candidate; by default the one booked already, else the best ranked."""


class DeclineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    therapist_id: Id | None = None
    """Decline this candidate only; by default the whole proposal (all its candidates)."""
    reason: Code = "client_declined"


class Declined(BaseModel):
    declined: MatchView
    proposal: MatchView | None
    """The new proposal without the declined therapists (null when none could be made)."""


class SwitchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Code = SWITCH_REASON


class Switched(BaseModel):
    proposal: MatchView | None


def match_view(document: dict[str, Any]) -> MatchView:
    return MatchView(
        match_id=document["_id"],
        client_id=document["client_id"],
        intake_id=document["intake_id"],
        status=document["status"],
        origin=document.get("origin", "intake"),
        sequence=int(document.get("sequence", 1)),
        candidates=[Candidate.model_validate(c) for c in document.get("candidates", ())],
        reasons=list(document.get("reasons", ())),
        session_format=document.get("session_format", "video"),
        created_at=document["created_at"],
        expires_at=document["expires_at"],
        accepted_therapist_id=document.get("accepted_therapist_id"),
        booked_therapist_id=document.get("booked_therapist_id"),
        declined_therapist_ids=list(document.get("declined_therapist_ids", ())),
        predecessor=document.get("predecessor"),
        successor=document.get("successor"),
        waitlisted=bool(document.get("waitlisted", not document.get("candidates"))),
    )


NO_SUCH_MATCH = "match"


async def _readable(
    audit: AuditedRead, ctx: MatchingContext, client_id: str, *, resource: str, resource_id: str
) -> dict[str, Any] | None:
    """The client's document, once the caller may read their record; else audited and 404."""
    client = await ctx.clients.get(client_id)
    await ensure_read(
        audit,
        client_store.care_of(client),
        client_id=client_id,
        now=ctx.clock(),
        resource=resource,
        resource_id=resource_id,
        scope=MATCHES_READ,
    )
    return client


def _may_act(who: Principal) -> None:
    """Only the client, an admin or a service choose (a role check: it reveals nothing)."""
    if who.role not in ACTORS:
        raise NotAllowed("only the client themselves, an admin or a service may choose for a client")
    ensure_scope(who, MATCHES_WRITE)


async def _own(who: Principal, audit: AuditedRead, client_id: str, resource: str, resource_id: str) -> None:
    """A client acts for themselves only; for anyone else, the 404 of a missing match (audited)."""
    if not who.may_act_for_client(client_id, MATCHES_WRITE):
        await audit.refused(
            resource=resource, resource_id=resource_id, client_id=client_id, basis="not_own_record"
        )
        raise NotFound(f"no such {resource}")


async def _proposal(ctx: MatchingContext, match_id: str) -> dict[str, Any]:
    proposal = await ctx.proposals.get(match_id)
    if proposal is None:
        raise NotFound(f"no such {NO_SUCH_MATCH}")
    return proposal


@router.get(
    "/clients/{client_id}/matches",
    response_model=MatchList,
    summary="A client's proposals, newest first, and whether they wait on the waitlist",
)
async def client_matches(client_id: ClientId, audit: Audit, ctx: Context) -> MatchList:
    client = await _readable(audit, ctx, client_id, resource="matches", resource_id=client_id) or {}
    items = []
    for match_id in reversed(client.get("match_ids", ())):
        proposal = await ctx.proposals.get(match_id)
        if proposal is not None:
            items.append(match_view(proposal))
    wait = client_store.wait_of(client)
    return MatchList(
        client_id=client_id,
        current_match_id=client.get("current_match_id"),
        waitlisted=wait is not None,
        waitlisted_since=wait["since"] if wait is not None else None,
        items=items,
    )


@router.get("/matches/{match_id}", response_model=MatchView, summary="One proposal")
async def read_match(match_id: MatchId, audit: Audit, ctx: Context) -> MatchView:
    proposal = await _proposal(ctx, match_id)
    await _readable(audit, ctx, proposal["client_id"], resource=NO_SUCH_MATCH, resource_id=match_id)
    return match_view(proposal)


@router.post(
    "/matches/{match_id}/accept", response_model=MatchView, summary="Accept a therapist (match-accepted)"
)
async def accept(
    match_id: MatchId, who: Caller, audit: Audit, ctx: Context, body: AcceptRequest | None = None
) -> MatchView:
    _may_act(who)
    proposal = await _proposal(ctx, match_id)
    await _own(who, audit, proposal["client_id"], NO_SUCH_MATCH, match_id)
    accepted = await accept_match(AcceptMatch(match_id, (body or AcceptRequest()).therapist_id), ctx)
    return match_view(accepted)


@router.post(
    "/matches/{match_id}/decline",
    response_model=Declined,
    summary="Decline a proposal or one of its therapists (match-declined), and get a new proposal",
)
async def decline(
    match_id: MatchId,
    who: Caller,
    audit: Audit,
    ctx: Context,
    body: DeclineRequest | None = None,
) -> Declined:
    _may_act(who)
    proposal = await _proposal(ctx, match_id)
    await _own(who, audit, proposal["client_id"], NO_SUCH_MATCH, match_id)
    request = body or DeclineRequest()
    result = await decline_match(DeclineMatch(match_id, request.therapist_id, request.reason), ctx)
    return Declined(
        declined=match_view(result.declined),
        proposal=match_view(result.proposal) if result.proposal else None,
    )


@router.post(
    "/clients/{client_id}/switch",
    response_model=Switched,
    summary="Switch therapist: the current one is declined, and a new proposal is made",
)
async def switch(
    client_id: ClientId,
    who: Caller,
    audit: Audit,
    ctx: Context,
    body: SwitchRequest | None = None,
) -> Switched:
    _may_act(who)
    await _own(who, audit, client_id, "client", client_id)
    proposal = await switch_therapist(SwitchTherapist(client_id, (body or SwitchRequest()).reason), ctx)
    return Switched(proposal=match_view(proposal) if proposal else None)
