"""The client accepts a therapist from a proposal: match-accepted.

The accepted therapist defaults to the one already booked, else the best ranked. While
the proposal is open, the other candidates' holds are released and the accepted
therapist's hold is extended by the proposal TTL, until the booking turns it into a place
in the caseload. A proposal booked already may still be accepted with another of its
candidates (scheduling then moves the sessions to them), provided that therapist still
qualifies and has room: a hold is placed on them first, under their document's lease.

The acceptance is folded into the client's care relationships right after the write that
stores it (the therapist is *chosen*: the whole record; the others' proposals lapse), and
the client waits no more. Accepting the same therapist again returns the proposal
unchanged (and folds again, which changes nothing); accepting another after one was
accepted is a conflict (decline first).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.matching.commands.cause import command_cause
from services.matching.commands.errors import Conflict, InvalidChoice, NotFound
from services.matching.commands.release_holds import release_holds
from services.matching.commands.update_client import update_client
from services.matching.context import Matching
from services.matching.domain.filters import ProposalRound
from services.matching.domain.needs import ClientNeeds
from services.matching.store import clients as client_state
from services.matching.store import proposals
from services.matching.store.therapists import extend_hold, holds_for, place_hold
from shared.events.envelope import new_event
from shared.events.models import MatchAccepted
from shared.storage import Document


async def accept_match(matching: Matching, match_id: str, *, therapist_id: str | None = None) -> Document:
    proposal = await matching.proposals.get(match_id)
    if proposal is None:
        raise NotFound(f"no match {match_id}")
    candidates = proposals.candidate_ids(proposal)
    if not candidates:
        raise Conflict(f"match {match_id} has no candidates to accept")
    chosen = therapist_id or proposal.get("booked_therapist_id") or candidates[0]
    if chosen not in candidates:
        raise InvalidChoice("therapist_id", f"{chosen} is not a candidate of match {match_id}")
    accepted = proposal.get("accepted_therapist_id")
    if accepted is not None:
        if accepted == chosen:
            await record_acceptance(matching, proposal)
            return proposal
        raise Conflict(f"match {match_id} was accepted with another therapist; decline it first")
    status = proposal["status"]
    if status not in (proposals.PROPOSED, proposals.BOOKED):
        raise Conflict(f"match {match_id} is {status}")

    now = matching.clock()
    expires_at = now + matching.policy.proposal_ttl
    if status == proposals.PROPOSED:
        await release_holds(matching, proposal, keep=chosen)
        await matching.change_therapists([(chosen, extend_hold(match_id, expires_at, now))])
    elif chosen != proposal.get("booked_therapist_id"):
        await _hold_for_move(matching, proposal, chosen)

    cause = command_cause(
        "accept",
        match_id,
        subject=proposal["client_id"],
        correlation_id=proposal.get("correlation_id"),
        now=now,
        source=matching.policy.source,
    )
    event = new_event(
        MatchAccepted(
            match_id=match_id, client_id=proposal["client_id"], therapist_id=chosen, accepted_at=now
        ),
        source=matching.policy.source,
        cause=cause,
        now=now,
    )
    updated = await matching.proposals.update(match_id, proposals.accept(chosen, now, [event]), cause=cause)
    if updated is None or updated.get("accepted_therapist_id") != chosen:
        raise Conflict(f"match {match_id} changed meanwhile; read it again")
    await record_acceptance(matching, updated)
    return updated


def acceptance_of(proposal: Mapping[str, Any]) -> tuple[MatchAccepted, datetime]:
    """The `match-accepted` a proposal was accepted with, and when (to fold it at)."""
    accepted_at: datetime = proposal["accepted_at"]
    event = MatchAccepted(
        match_id=proposal["_id"],
        client_id=proposal["client_id"],
        therapist_id=proposal["accepted_therapist_id"],
        accepted_at=accepted_at,
    )
    return event, accepted_at


async def record_acceptance(matching: Matching, proposal: Mapping[str, Any]) -> None:
    """The client's side of an acceptance: the therapist chosen, the wait over."""
    now = matching.clock()
    change = client_state.both(
        client_state.fold([acceptance_of(proposal)], now), client_state.leave_waitlist(now)
    )
    await update_client(matching, proposal["client_id"], change)


async def _hold_for_move(matching: Matching, proposal: Mapping[str, Any], chosen: str) -> None:
    """Room with `chosen` for a client moving from the booked therapist, or a conflict."""
    client = await matching.clients.get(proposal["client_id"])
    if client is None or not client.get("intake"):
        raise Conflict(f"no intake known for client {proposal['client_id']}")
    now = matching.clock()
    match_id = proposal["_id"]
    needs = ClientNeeds.from_intake(client_state.intake_of(client))
    moment = ProposalRound(now=now, match_id=match_id)
    hold = place_hold(match_id, proposal["client_id"], now + matching.policy.proposal_ttl, needs, moment)
    written = await matching.change_therapists([(chosen, hold)])
    if not holds_for(written.get(chosen), match_id):
        raise Conflict(f"therapist {chosen} no longer has room or no longer qualifies")
