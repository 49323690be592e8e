"""Follow the client's acceptance: they chose a therapist (folded into the care relationships: *chosen*).

- the introduction with that therapist is booked already (the client picked one of their
  slots, or it was booked at once and they accepted it), or the client is in care with
  them: recorded, nothing is booked twice;
- the client's care is with (or starting with) another therapist: a switch; care with the
  former ends and the introduction with the chosen one is booked near the next session
  (`switch_therapist.py`);
- nobody yet (the policy waited for this, or the proposal's booking failed): the
  introduction is booked with the accepted therapist (`book_first_session.py`);
- the proposal has not arrived yet (another topic, another partition): the acceptance is
  kept and the proposal, when it comes, is booked with the accepted therapist.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.scheduling.commands.book_first_session import BookFirstSession, book_first_session
from services.scheduling.commands.switch_therapist import SwitchTherapist, switch_therapist
from services.scheduling.context import SchedulingContext
from services.scheduling.domain.care import Care, ProposalOutcome
from services.scheduling.domain.proposals import (
    arrived_meanwhile,
    format_for,
    remember_acceptance,
    with_them_already,
)
from services.scheduling.store.clients import Decision, care_to_write, write_care
from shared.events.envelope import Envelope, follow_up
from shared.events.models import MatchAccepted


@dataclass(frozen=True, slots=True)
class FollowAcceptance:
    """The client accepted a therapist of a proposal (`acceptance`, what `cause` carries)."""

    acceptance: MatchAccepted
    cause: Envelope


async def follow_acceptance(command: FollowAcceptance, ctx: SchedulingContext) -> None:
    """Book the introduction with the accepted therapist, or switch the client's care to them."""
    event = command.acceptance
    # Every acceptance is written (remembered, or booked with the accepted therapist, whose
    # calendar that booking rewrites).
    async with care_to_write(ctx, event.client_id) as care:
        await _follow(command, care, ctx)


async def _follow(command: FollowAcceptance, care: Care, ctx: SchedulingContext) -> None:
    event, envelope = command.acceptance, command.cause
    now = ctx.now()
    remember = remember_acceptance(event, envelope)
    proposal = care.proposal(event.match_id)
    session_format = format_for(care, event.match_id, event.therapist_id)
    cause = envelope
    if proposal is None or with_them_already(care, event, now):
        outcome = ProposalOutcome.accepted_early if proposal is None else proposal.outcome
        stored = await write_care(
            ctx,
            event.client_id,
            lambda c: Decision(remember(c, outcome, None)),
            cause=envelope,
            event=event,
        )
        if proposal is not None or not arrived_meanwhile(stored, event.match_id):
            return
        # The proposal was stored while this acceptance was decided on (another replica
        # handled it at the same moment and saw no acceptance): book it here, once.
        care, proposal = stored, stored.proposal(event.match_id)
        assert proposal is not None
    if proposal.outcome is ProposalOutcome.accepted_early:
        # This acceptance wrote already (just now, or before a crash): booking is a write of its own.
        cause = follow_up(envelope, "booking")
    if care.current_therapist(now) not in (None, event.therapist_id):
        switch = SwitchTherapist(
            client_id=event.client_id,
            therapist_id=event.therapist_id,
            match_id=event.match_id,
            session_format=session_format,
            cause=cause,
            remember=remember,
            event=event,
        )
        await switch_therapist(switch, ctx)
    else:
        booking = BookFirstSession(
            client_id=event.client_id,
            match_id=event.match_id,
            intake_id=proposal.intake_id,
            candidates=[(event.therapist_id, session_format)],
            client=care.client_windows,
            cause=cause,
            remember=remember,
            event=event,
        )
        await book_first_session(booking, ctx)
