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
from dataclasses import dataclass
from typing import Any

from services.matching.commands.release_holds import ReleaseHolds, release_holds
from services.matching.context import SERVICE, MatchingContext
from services.matching.domain.filters import ProposalRound
from services.matching.domain.needs import ClientNeeds
from services.matching.domain.proposal import Proposal, Status
from services.matching.domain.therapist import Hold
from services.matching.store import clients as client_store
from services.matching.store.proposals import acceptance_of, moving, proposal_of
from services.matching.store.therapists import extend_hold, holds_for, place_hold
from shared.events.envelope import command_cause, new_event
from shared.events.models import MatchAccepted
from shared.refusals import Conflict, FieldProblem, Invalid, NotFound
from shared.storage import Document


@dataclass(frozen=True, slots=True)
class AcceptMatch:
    match_id: str
    therapist_id: str | None = None
    """Which candidate; by default the one booked already, else the best ranked."""


async def accept_match(command: AcceptMatch, ctx: MatchingContext) -> Document:
    """The proposal as accepted."""
    match_id = command.match_id
    document = await ctx.proposals.get(match_id)
    if document is None:
        raise NotFound(f"no match {match_id}")
    proposal = proposal_of(document)
    chosen = proposal.choice(command.therapist_id)
    if not proposal.names(chosen):
        raise Invalid([FieldProblem("body.therapist_id", f"{chosen} is not a candidate of match {match_id}")])
    if proposal.accepted_with(chosen):
        await _record_acceptance(document, ctx)
        return document
    proposal.ensure_acceptable(chosen)

    now = ctx.clock()
    if proposal.status is Status.proposed:
        await release_holds(ReleaseHolds.of(proposal, keep=chosen), ctx)
        await ctx.directory.change_therapists(
            [(chosen, extend_hold(match_id, now + ctx.policy.proposal_ttl, now))]
        )
    elif chosen != proposal.booked_therapist_id:
        await _hold_for_move(proposal, chosen, ctx)

    cause = command_cause(
        SERVICE,
        "accept",
        match_id,
        subject=proposal.client_id,
        correlation_id=proposal.correlation_id,
        now=now,
    )
    event = new_event(
        MatchAccepted(match_id=match_id, client_id=proposal.client_id, therapist_id=chosen, accepted_at=now),
        source=ctx.policy.source,
        cause=cause,
        now=now,
    )
    updated = await ctx.proposals.update(
        match_id, moving(lambda p: p.accept(chosen, now), [event]), cause=cause
    )
    if updated is None or updated.get("accepted_therapist_id") != chosen:
        raise Conflict(f"match {match_id} changed meanwhile; read it again")
    await _record_acceptance(updated, ctx)
    return updated


async def _record_acceptance(document: Mapping[str, Any], ctx: MatchingContext) -> None:
    """The client's side of an acceptance: the therapist chosen, the wait over."""
    acceptance = acceptance_of(document)
    await client_store.update(
        ctx.clients,
        ctx.waitlist,
        document["client_id"],
        lambda client: client.fold([acceptance]).leave_waitlist(),
        now=ctx.clock(),
    )


async def _hold_for_move(proposal: Proposal, chosen: str, ctx: MatchingContext) -> None:
    """Room with `chosen` for a client moving from the booked therapist, or a conflict."""
    client = client_store.client_of(await ctx.clients.get(proposal.client_id), proposal.client_id)
    if client.intake is None:
        raise Conflict(f"no intake known for client {proposal.client_id}")
    now = ctx.clock()
    hold = Hold(proposal.match_id, proposal.client_id, now + ctx.policy.proposal_ttl)
    moment = ProposalRound(now=now, match_id=proposal.match_id)
    change = place_hold(hold, ClientNeeds.from_intake(client.intake), moment)
    written = await ctx.directory.change_therapists([(chosen, change)])
    if not holds_for(written.get(chosen), proposal.match_id):
        raise Conflict(f"therapist {chosen} no longer has room or no longer qualifies")
