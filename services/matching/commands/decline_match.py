"""The client declines a proposal, or one therapist in it: match-declined, then a new proposal.

Declining one therapist excludes them; declining the proposal as a whole excludes all its
candidates. Either way the client is never offered them again, the proposal's holds are
released, the decline is folded into the client's care relationships (a chosen or
treating therapist declined is ended: 404 on the client's record from then on), the
client leaves the waitlist, a client already in care with a declined therapist leaves
their caseload (a place freed: the waitlist is re-matched for it), and a new proposal
(`origin: decline`) follows without them. An expired proposal may be declined too (the
client asks for another). Repeating the same decline returns the same outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.matching.commands.propose_again import ProposeAgain, propose_again
from services.matching.commands.release_holds import ReleaseHolds, release_holds
from services.matching.commands.rematch_waitlist import RematchWaitlist, rematch_waitlist
from services.matching.context import SERVICE, MatchingContext
from services.matching.domain.client import DECLINED, Client
from services.matching.domain.proposal import match_id_for
from services.matching.store import clients as client_store
from services.matching.store.proposals import moving, proposal_of
from services.matching.store.therapists import end_care
from shared.events.envelope import command_cause, new_event
from shared.events.models import MatchDeclined
from shared.refusals import Conflict, FieldProblem, Invalid, NotFound
from shared.storage import Document


@dataclass(frozen=True, slots=True)
class DeclineMatch:
    match_id: str
    therapist_id: str | None = None
    """Decline this candidate only; by default the whole proposal (all its candidates)."""
    reason: str = "client_declined"


@dataclass(frozen=True, slots=True)
class Declined:
    declined: Document
    proposal: Document | None
    """The new proposal (None when none could be made, e.g. proposals per intake exhausted)."""


async def decline_match(command: DeclineMatch, ctx: MatchingContext) -> Declined:
    match_id, therapist_id = command.match_id, command.therapist_id
    document = await ctx.proposals.get(match_id)
    if document is None:
        raise NotFound(f"no match {match_id}")
    proposal = proposal_of(document)
    if therapist_id is not None and not proposal.names(therapist_id):
        raise Invalid(
            [FieldProblem("body.therapist_id", f"{therapist_id} is not a candidate of match {match_id}")]
        )
    now = ctx.clock()
    cause = command_cause(
        SERVICE,
        "decline",
        match_id,
        therapist_id or "*",
        subject=proposal.client_id,
        correlation_id=proposal.correlation_id,
        now=now,
    )
    next_id = match_id_for("after", cause.id)
    if not proposal.may_decline(cause.id):
        raise Conflict(f"match {match_id} is {proposal.status}")

    declined_ids = [therapist_id] if therapist_id else list(proposal.candidates)
    client_id = proposal.client_id
    event = new_event(
        MatchDeclined(
            match_id=match_id,
            client_id=client_id,
            therapist_id=therapist_id,
            reason=command.reason,
            declined_at=now,
        ),
        source=ctx.policy.source,
        cause=cause,
        now=now,
    )
    decline = moving(
        lambda p: p.decline(
            now, by=cause.id, therapist_ids=declined_ids, successor=next_id, reason=command.reason
        ),
        [event],
    )
    declined = await ctx.proposals.update(match_id, decline, cause=cause)
    assert declined is not None
    await release_holds(ReleaseHolds.of(proposal), ctx)
    in_care_with = client_store.client_of(await ctx.clients.get(client_id), client_id).therapist_id
    ends_care = in_care_with is not None and in_care_with in declined_ids
    closed_at = declined.get("closed_at", now)

    def declining(client: Client) -> Client:
        client = client.exclude(declined_ids, DECLINED).fold([(event.data, closed_at)]).leave_waitlist()
        return client.in_care_with(None, only_if=in_care_with) if ends_care else client

    await client_store.update(ctx.clients, ctx.waitlist, client_id, declining, now=now)
    if ends_care and in_care_with is not None:
        await ctx.directory.change_therapists([(in_care_with, end_care(client_id, now))])
    following = await propose_again(
        ProposeAgain(
            client_id, next_id, cause, origin="decline", predecessor=match_id, sequence=proposal.sequence + 1
        ),
        ctx,
    )
    if ends_care and in_care_with is not None:
        await rematch_waitlist(RematchWaitlist((in_care_with,), cause), ctx)
    return Declined(declined=declined, proposal=following)
