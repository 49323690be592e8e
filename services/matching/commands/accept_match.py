"""The client accepts a therapist from a proposal: match-accepted.

The accepted therapist defaults to the one already booked, else the best ranked. The other
candidates' holds are released; the accepted therapist's hold is extended by the proposal
TTL, until the booking turns it into a place in the caseload. Accepting the same therapist
again returns the same proposal; accepting another after one was accepted is a conflict
(decline first).
"""

from __future__ import annotations

from services.matching.commands.cause import command_cause
from services.matching.commands.errors import Conflict, InvalidChoice, NotFound
from services.matching.commands.release_holds import release_holds
from services.matching.context import Matching
from services.matching.store import proposals
from services.matching.store.therapists import extend_hold
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
            return proposal
        raise Conflict(f"match {match_id} was accepted with another therapist; decline it first")
    status = proposal["status"]
    booked = proposal.get("booked_therapist_id")
    if status not in (proposals.PROPOSED, proposals.BOOKED):
        raise Conflict(f"match {match_id} is {status}")
    if status == proposals.BOOKED and booked != chosen:
        raise Conflict(f"match {match_id} is booked with another therapist; decline it to choose again")

    now = matching.clock()
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
    assert updated is not None
    if updated.get("accepted_therapist_id") != chosen:
        raise Conflict(f"match {match_id} changed meanwhile; read it again")
    if status == proposals.PROPOSED:
        await release_holds(matching, proposal, keep=chosen)
        await matching.change_therapists(
            [(chosen, extend_hold(match_id, now + matching.policy.proposal_ttl, now))]
        )
    return updated
