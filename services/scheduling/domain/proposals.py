"""What a care record keeps of matching's proposals and acceptances (ids and codes only), and
what it tells about them: who was accepted, whether a proposal is booked or waits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from services.scheduling.domain.care import Care, Proposal, ProposalOutcome, windows_from
from services.scheduling.domain.slots import ClientWindows
from shared.events.envelope import Envelope
from shared.events.models import MatchAccepted, MatchProposed

Remember = Callable[[Care, ProposalOutcome, str | None], Care]
"""Records the proposal (and the client's windows) with its outcome and booked session."""


def ranked_candidates(event: MatchProposed) -> tuple[tuple[str, str | None], ...]:
    """(therapist id, session format) best first; a candidate's own format wins over the proposal's."""
    return tuple(
        (c.therapist_id, (c.session_format or event.session_format).value)
        for c in sorted(event.candidates, key=lambda c: c.rank)
    )


def client_windows_of(event: MatchProposed) -> ClientWindows | None:
    """The client's weekly windows in their own zone, when the proposal carries both."""
    windows = windows_from(w.model_dump(mode="json") for w in event.availability)
    return ClientWindows(event.timezone, windows) if event.timezone and windows else None


def remember_proposal(event: MatchProposed, envelope: Envelope) -> Remember:
    """Keep the client's zone, windows and format, and the proposal with its outcome."""

    def remember(care: Care, outcome: ProposalOutcome, session_id: str | None) -> Care:
        client = client_windows_of(event)
        care = replace(
            care,
            correlation_id=care.correlation_id or envelope.correlation_id,
            timezone=event.timezone or care.timezone,
            windows=client.weekly if client else care.windows,
            session_format=event.session_format.value,
        )
        known = care.proposal(event.match_id)
        return care.with_proposal(
            Proposal(
                match_id=event.match_id,
                outcome=outcome,
                candidates=ranked_candidates(event),
                intake_id=event.intake_id,
                accepted_therapist_id=known.accepted_therapist_id if known else None,
                session_id=session_id,
                expires_at=event.expires_at,
            )
        )

    return remember


def remember_acceptance(event: MatchAccepted, envelope: Envelope) -> Remember:
    """Keep the acceptance on its proposal (or on a placeholder until the proposal comes)."""

    def remember(care: Care, outcome: ProposalOutcome, session_id: str | None) -> Care:
        known = care.proposal(event.match_id) or Proposal(event.match_id, outcome)
        care = replace(care, correlation_id=care.correlation_id or envelope.correlation_id)
        return care.with_proposal(
            replace(
                known,
                outcome=outcome,
                accepted_therapist_id=event.therapist_id,
                session_id=session_id or known.session_id,
            )
        )

    return remember


def format_for(care: Care, match_id: str, therapist_id: str) -> str | None:
    """The session format the proposal named for this therapist, if it did."""
    proposal = care.proposal(match_id)
    found = dict(proposal.candidates).get(therapist_id) if proposal else None
    return found or care.session_format


def accepted_meanwhile(care: Care, match_id: str) -> str | None:
    """The therapist accepted between a proposal's read and its write, if any."""
    proposal = care.proposal(match_id)
    if proposal is None or proposal.outcome is not ProposalOutcome.waiting or proposal.session_id:
        return None
    return proposal.accepted_therapist_id


def arrived_meanwhile(care: Care, match_id: str) -> bool:
    """The proposal came between an acceptance's read and its write: it has candidates and
    still waits for this acceptance to be booked."""
    proposal = care.proposal(match_id)
    return (
        proposal is not None
        and bool(proposal.candidates)
        and proposal.outcome is ProposalOutcome.accepted_early
        and proposal.session_id is None
    )


def with_them_already(care: Care, event: MatchAccepted, now: datetime) -> bool:
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
