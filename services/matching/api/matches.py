"""Client choice: list proposals, accept, decline, switch therapist.

A client acts on their own matches only; admins and services act for anyone. A clinician
may read the matches of a client in their care, never act on them. Every read of a
client's matches is audit-logged (their reasons reveal clinical concerns).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict

from services.matching.api.context import MatchingContext, problem_for
from services.matching.commands.accept_match import accept_match
from services.matching.commands.decline_match import decline_match
from services.matching.commands.errors import CommandRefused
from services.matching.commands.switch_therapist import SWITCH_REASON, switch_therapist
from services.matching.context import Matching
from shared.events.common import Candidate, Code, Id
from shared.http.auth import Principal, Role
from shared.http.dependencies import Audit, Caller
from shared.http.problems import Problem

router = APIRouter(tags=["matches"])

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
MatchId = Annotated[str, Path(pattern=ID_PATTERN, description="the match (proposal) id")]
ClientId = Annotated[str, Path(pattern=ID_PATTERN, description="the client's id")]
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


class MatchList(BaseModel):
    client_id: str
    current_match_id: str | None
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
    )


async def _readable_by(who: Principal, client_id: str, matching: Matching) -> None:
    client = await matching.clients.get(client_id)
    treating = [client["therapist_id"]] if client and client.get("therapist_id") else []
    if not who.may_act_for_client(client_id, treating_therapist_ids=treating):
        raise Problem(
            403, "Forbidden", f"{who.role.value} {who.subject} may not read client {client_id}'s matches"
        )


def _may_act(who: Principal, client_id: str) -> None:
    if who.role not in ACTORS or not who.may_act_for_client(client_id):
        raise Problem(
            403, "Forbidden", "only the client themselves, an admin or a service may choose for a client"
        )


async def _proposal(matching: Matching, match_id: str) -> dict[str, Any]:
    proposal = await matching.proposals.get(match_id)
    if proposal is None:
        raise Problem(404, "Not Found", f"no match {match_id}")
    return proposal


@router.get(
    "/clients/{client_id}/matches", response_model=MatchList, summary="A client's proposals, newest first"
)
async def client_matches(
    client_id: ClientId, who: Caller, audit: Audit, matching: MatchingContext
) -> MatchList:
    await _readable_by(who, client_id, matching)
    client = await matching.clients.get(client_id)
    items = []
    for match_id in reversed((client or {}).get("match_ids", ())):
        proposal = await matching.proposals.get(match_id)
        if proposal is not None:
            items.append(match_view(proposal))
    await audit.read(resource="matches", resource_id=client_id, client_id=client_id)
    return MatchList(
        client_id=client_id, current_match_id=(client or {}).get("current_match_id"), items=items
    )


@router.get("/matches/{match_id}", response_model=MatchView, summary="One proposal")
async def read_match(match_id: MatchId, who: Caller, audit: Audit, matching: MatchingContext) -> MatchView:
    proposal = await _proposal(matching, match_id)
    await _readable_by(who, proposal["client_id"], matching)
    await audit.read(resource="match", resource_id=match_id, client_id=proposal["client_id"])
    return match_view(proposal)


@router.post(
    "/matches/{match_id}/accept", response_model=MatchView, summary="Accept a therapist (match-accepted)"
)
async def accept(
    match_id: MatchId, who: Caller, matching: MatchingContext, body: AcceptRequest | None = None
) -> MatchView:
    proposal = await _proposal(matching, match_id)
    _may_act(who, proposal["client_id"])
    try:
        accepted = await accept_match(matching, match_id, therapist_id=(body or AcceptRequest()).therapist_id)
    except CommandRefused as refused:
        raise problem_for(refused) from refused
    return match_view(accepted)


@router.post(
    "/matches/{match_id}/decline",
    response_model=Declined,
    summary="Decline a proposal or one of its therapists (match-declined), and get a new proposal",
)
async def decline(
    match_id: MatchId, who: Caller, matching: MatchingContext, body: DeclineRequest | None = None
) -> Declined:
    proposal = await _proposal(matching, match_id)
    _may_act(who, proposal["client_id"])
    request = body or DeclineRequest()
    try:
        result = await decline_match(
            matching, match_id, therapist_id=request.therapist_id, reason=request.reason
        )
    except CommandRefused as refused:
        raise problem_for(refused) from refused
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
    client_id: ClientId, who: Caller, matching: MatchingContext, body: SwitchRequest | None = None
) -> Switched:
    _may_act(who, client_id)
    try:
        proposal = await switch_therapist(matching, client_id, reason=(body or SwitchRequest()).reason)
    except CommandRefused as refused:
        raise problem_for(refused) from refused
    return Switched(proposal=match_view(proposal) if proposal else None)
