"""`match-accepted`: the client chose a therapist.

- the therapist they are in care with already: recorded, nothing moves;
- another therapist while in care: a switch, their future sessions move to the new one;
- not in care yet (the policy waited for this, or the proposal's booking failed): the
  first session is booked with the accepted therapist;
- the proposal has not arrived yet (another topic, another partition): the acceptance is
  kept and the proposal, when it comes, is booked with the accepted therapist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.scheduling.commands.book_first_session import FirstBooking, book_first_session
from services.scheduling.commands.context import Scheduling
from services.scheduling.commands.proposals import format_for, remember_acceptance
from services.scheduling.commands.record_care import Decision, load_care, write_care
from services.scheduling.commands.switch_therapist import switch_therapist
from services.scheduling.domain.care import Care, ProposalOutcome
from shared.events.envelope import Envelope
from shared.events.models import MatchAccepted


def on_match_accepted(ctx: Scheduling) -> Callable[[MatchAccepted, Envelope], Awaitable[None]]:
    async def handle(event: MatchAccepted, envelope: Envelope) -> None:
        """Book with the accepted therapist, or move the client's future sessions to them."""
        care = await load_care(ctx, event.client_id) or Care(client_id=event.client_id)
        remember = remember_acceptance(event, envelope)
        proposal = care.proposal(event.match_id)
        session_format = format_for(care, event.match_id, event.therapist_id)
        if care.therapist_id == event.therapist_id or proposal is None:
            outcome = ProposalOutcome.accepted_early if proposal is None else proposal.outcome
            await write_care(
                ctx, event.client_id, lambda c: Decision(remember(c, outcome, None)), cause=envelope
            )
        elif care.therapist_id is not None:
            await switch_therapist(
                ctx,
                event.client_id,
                event.therapist_id,
                match_id=event.match_id,
                session_format=session_format,
                cause=envelope,
                remember=remember,
            )
        else:
            request = FirstBooking(
                client_id=event.client_id,
                match_id=event.match_id,
                intake_id=proposal.intake_id,
                candidates=[(event.therapist_id, session_format)],
                client=care.client_windows,
            )
            await book_first_session(ctx, request, cause=envelope, remember=remember)

    return handle
