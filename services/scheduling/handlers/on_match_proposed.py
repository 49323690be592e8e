"""`match-proposed`: the candidates are *proposed*; wait for the client's choice (or book at once).

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

from collections.abc import Awaitable, Callable

from services.scheduling.commands.book_first_session import FirstBooking, accepted_only, book_first_session
from services.scheduling.commands.context import Scheduling
from services.scheduling.commands.proposals import client_windows_of, ranked_candidates, remember_proposal
from services.scheduling.commands.record_care import Decision, load_care, write_care
from services.scheduling.domain.care import Care, ProposalOutcome
from shared.events.envelope import Envelope
from shared.events.models import MatchProposed


def _accepted_meanwhile(care: Care, match_id: str) -> str | None:
    """The therapist accepted between this handler's read and its write, if any."""
    proposal = care.proposal(match_id)
    if proposal is None or proposal.outcome is not ProposalOutcome.waiting or proposal.session_id:
        return None
    return proposal.accepted_therapist_id


def on_match_proposed(ctx: Scheduling) -> Callable[[MatchProposed, Envelope], Awaitable[None]]:
    async def handle(event: MatchProposed, envelope: Envelope) -> None:
        """Keep the proposal; book at once with the best-ranked fitting candidate if the policy says so."""
        care = await load_care(ctx, event.client_id) or Care(client_id=event.client_id)
        known = care.proposal(event.match_id)
        pending = _accepted_meanwhile(care, event.match_id)  # a crash came between write and booking
        if known is not None and known.outcome is not ProposalOutcome.accepted_early and pending is None:
            return  # handled already: a proposal books at most once
        accepted = known.accepted_therapist_id if known else None
        remember = remember_proposal(event, envelope)
        current = care.current_therapist(ctx.now())
        elsewhere = current is not None and current != accepted  # care is with someone else
        if elsewhere or (accepted is None and not ctx.policy.book_at_once):
            stored = await write_care(
                ctx,
                event.client_id,
                lambda c: Decision(remember(c, ProposalOutcome.waiting, None)),
                cause=envelope,
                event=event,
            )
            accepted = _accepted_meanwhile(stored, event.match_id)
            if elsewhere or accepted is None:
                return
            # The acceptance was stored while this proposal was decided on (another replica
            # handled it at the same moment and found no proposal): book it here, once.
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
        await book_first_session(ctx, request, cause=envelope, remember=remember, event=event)

    return handle
