"""Follow matching's proposal: the candidates are *proposed*; wait for the client's choice (or book at once).

The proposal is kept with the client's windows (and folded into the care relationships:
each candidate may see the referral summary until it expires). By default
(`wait_for_accept`) nothing is booked: the client accepts a candidate (`match-accepted`)
or books one of their slots. With the opt-in `book_at_once`, the best fitting candidate's
introduction is booked at once on the system's behalf, which grants that therapist
nothing until the client accepts. A proposal is acted on once: one already handled
(booked, failed, waiting) books nothing more, whatever the delivery. A client whose care
is with (or starting with) a therapist keeps the proposal for an acceptance (a switch).
An acceptance that arrived before its proposal is honoured now.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.scheduling.commands.book_first_session import BookFirstSession, book_first_session
from services.scheduling.context import SchedulingContext
from services.scheduling.domain.care import Care, ProposalOutcome
from services.scheduling.domain.proposals import (
    accepted_meanwhile,
    client_windows_of,
    ranked_candidates,
    remember_proposal,
)
from services.scheduling.store.clients import Decision, care_to_write, write_care
from shared.events.envelope import Envelope, follow_up
from shared.events.models import MatchProposed


@dataclass(frozen=True, slots=True)
class FollowProposal:
    """Matching proposed candidates to the client (`proposal`, what `cause` carries)."""

    proposal: MatchProposed
    cause: Envelope


async def follow_proposal(command: FollowProposal, ctx: SchedulingContext) -> None:
    """Keep the proposal; book at once with the best-ranked fitting candidate if the policy says so."""
    # The proposal is written (kept, booked or failed) unless handled already. The calendar is
    # not held with the record: many bookings at once want a popular therapist's (its writes
    # are revision-checked, no lease).
    async with care_to_write(ctx, command.proposal.client_id) as care:
        await _follow(command, care, ctx)


async def _follow(command: FollowProposal, care: Care, ctx: SchedulingContext) -> None:
    event, envelope = command.proposal, command.cause
    known = care.proposal(event.match_id)
    pending = accepted_meanwhile(care, event.match_id)  # a crash came between write and booking
    if known is not None and known.outcome is not ProposalOutcome.accepted_early and pending is None:
        return  # handled already: a proposal books at most once
    accepted = known.accepted_therapist_id if known else None
    remember = remember_proposal(event, envelope)
    current = care.current_therapist(ctx.now())
    elsewhere = current is not None and current != accepted  # care is with someone else
    cause = envelope
    if pending is not None:
        cause = follow_up(envelope, "booking")  # the proposal's own write is stored already
    elif elsewhere or (accepted is None and not ctx.policy.book_at_once):
        stored = await write_care(
            ctx,
            event.client_id,
            lambda c: Decision(remember(c, ProposalOutcome.waiting, None)),
            cause=envelope,
            event=event,
        )
        accepted = accepted_meanwhile(stored, event.match_id)
        if elsewhere or accepted is None:
            return
        # The acceptance was stored while this proposal was decided on (another replica
        # handled it at the same moment and found no proposal): book it here, once, as a
        # write of its own (the envelope's write is the one just made).
        cause = follow_up(envelope, "booking")
    booking = BookFirstSession(
        client_id=event.client_id,
        match_id=event.match_id,
        intake_id=event.intake_id,
        candidates=ranked_candidates(event),
        client=client_windows_of(event),
        cause=cause,
        remember=remember,
        event=event,
    )
    if accepted is not None:
        candidates = dict(booking.candidates)
        booking = booking.accepted_only(accepted, candidates.get(accepted, event.session_format.value))
    await book_first_session(booking, ctx)
