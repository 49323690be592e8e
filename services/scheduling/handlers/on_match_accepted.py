"""`match-accepted`: the client chose a therapist (folded into the care relationships: *chosen*).

- the introduction with that therapist is booked already (the client picked one of their
  slots, or it was booked at once and they accepted it), or the client is in care with
  them: recorded, nothing is booked twice;
- the client's care is with (or starting with) another therapist: a switch; care with the
  former ends and the introduction with the chosen one is booked near the next session;
- nobody yet (the policy waited for this, or the proposal's booking failed): the
  introduction is booked with the accepted therapist;
- the proposal has not arrived yet (another topic, another partition): the acceptance is
  kept and the proposal, when it comes, is booked with the accepted therapist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from services.scheduling.commands.book_first_session import FirstBooking, book_first_session
from services.scheduling.commands.context import Scheduling
from services.scheduling.commands.proposals import format_for, remember_acceptance
from services.scheduling.commands.record_care import Decision, load_care, write_care
from services.scheduling.commands.switch_therapist import switch_therapist
from services.scheduling.domain.care import Care, ProposalOutcome
from shared.events.envelope import Envelope
from shared.events.models import MatchAccepted


def _with_them_already(care: Care, event: MatchAccepted, now: datetime) -> bool:
    """Whether the accepted therapist has the client already: in care, a session ahead, or
    the introduction booked from this very proposal (the client's own booking even if they
    cancelled it since: their acceptance follows from it and must not book another)."""
    if care.in_care_with == event.therapist_id or care.upcoming(now, event.therapist_id):
        return True
    proposal = care.proposal(event.match_id)
    booked = care.session(proposal.session_id) if proposal and proposal.session_id else None
    return (
        booked is not None
        and booked.therapist_id == event.therapist_id
        and (booked.holds_time or booked.booked_by == "client")
    )


def _arrived_meanwhile(care: Care, match_id: str) -> bool:
    """The proposal came between this handler's read and its write: it has candidates and
    still waits for this acceptance to be booked."""
    proposal = care.proposal(match_id)
    return (
        proposal is not None
        and bool(proposal.candidates)
        and proposal.outcome is ProposalOutcome.accepted_early
        and proposal.session_id is None
    )


def on_match_accepted(ctx: Scheduling) -> Callable[[MatchAccepted, Envelope], Awaitable[None]]:
    async def handle(event: MatchAccepted, envelope: Envelope) -> None:
        """Book the introduction with the accepted therapist, or switch the client's care to them."""
        care = await load_care(ctx, event.client_id) or Care(client_id=event.client_id)
        now = ctx.now()
        remember = remember_acceptance(event, envelope)
        proposal = care.proposal(event.match_id)
        session_format = format_for(care, event.match_id, event.therapist_id)
        if proposal is None or _with_them_already(care, event, now):
            outcome = ProposalOutcome.accepted_early if proposal is None else proposal.outcome
            stored = await write_care(
                ctx,
                event.client_id,
                lambda c: Decision(remember(c, outcome, None)),
                cause=envelope,
                event=event,
            )
            if proposal is not None or not _arrived_meanwhile(stored, event.match_id):
                return
            # The proposal was stored while this acceptance was decided on (another replica
            # handled it at the same moment and saw no acceptance): book it here, once.
            care, proposal = stored, stored.proposal(event.match_id)
            assert proposal is not None
        if care.current_therapist(now) not in (None, event.therapist_id):
            await switch_therapist(
                ctx,
                event.client_id,
                event.therapist_id,
                match_id=event.match_id,
                session_format=session_format,
                cause=envelope,
                remember=remember,
                event=event,
            )
        else:
            request = FirstBooking(
                client_id=event.client_id,
                match_id=event.match_id,
                intake_id=proposal.intake_id,
                candidates=[(event.therapist_id, session_format)],
                client=care.client_windows,
            )
            await book_first_session(ctx, request, cause=envelope, remember=remember, event=event)

    return handle
