"""`match-proposed`: book the first session with the best fitting candidate (or wait).

A proposal is acted on once: one already handled (booked, failed, waiting) books
nothing more, whatever the delivery. A client already in care keeps the proposal for an
acceptance (a switch); so does every client when the operator's policy waits for
`match-accepted`. An acceptance that arrived before its proposal is honoured now.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.scheduling.commands.book_first_session import FirstBooking, accepted_only, book_first_session
from services.scheduling.commands.context import Scheduling
from services.scheduling.commands.proposals import client_windows_of, ranked_candidates, remember_proposal
from services.scheduling.commands.record_care import Decision, load_care, write_care
from services.scheduling.domain.care import Care, ProposalOutcome
from shared.events.envelope import Envelope
from shared.events.models import MatchProposed


def on_match_proposed(ctx: Scheduling) -> Callable[[MatchProposed, Envelope], Awaitable[None]]:
    async def handle(event: MatchProposed, envelope: Envelope) -> None:
        """Book the first session with the best-ranked candidate who has a slot in the client's windows."""
        care = await load_care(ctx, event.client_id) or Care(client_id=event.client_id)
        known = care.proposal(event.match_id)
        if known is not None and known.outcome is not ProposalOutcome.accepted_early:
            return  # handled already: a proposal books at most once
        accepted = known.accepted_therapist_id if known else None
        remember = remember_proposal(event, envelope)
        if care.therapist_id is not None or (accepted is None and not ctx.policy.book_at_once):
            await write_care(
                ctx,
                event.client_id,
                lambda c: Decision(remember(c, ProposalOutcome.waiting, None)),
                cause=envelope,
            )
            return
        request = FirstBooking(
            client_id=event.client_id,
            match_id=event.match_id,
            intake_id=event.intake_id,
            candidates=ranked_candidates(event),
            client=client_windows_of(event),
        )
        if accepted is not None:
            candidates = dict(request.candidates)
            request = accepted_only(request, accepted, candidates.get(accepted, event.session_format.value))
        await book_first_session(ctx, request, cause=envelope, remember=remember)

    return handle
