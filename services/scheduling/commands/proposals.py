"""What a care record keeps of matching's proposals and acceptances (ids and codes only)."""

from __future__ import annotations

from dataclasses import replace

from services.scheduling.commands.book_first_session import Remember
from services.scheduling.domain.care import Care, Proposal, ProposalOutcome, windows_from
from services.scheduling.domain.slots import ClientWindows
from shared.events.envelope import Envelope
from shared.events.models import MatchAccepted, MatchProposed


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
