"""The `proposals` collection: one document per match proposal, `_id = match_id`.

    {_id, client_id, intake_id, status, origin, predecessor, sequence, waitlisted,
     candidates: [{therapist_id, rank, score, factors, reasons, session_format}], reasons,
     session_format, created_at, expires_at, correlation_id,
     accepted_therapist_id, accepted_at, accepted_by, booked_therapist_id, booked_at,
     declined_therapist_ids, decline_reason, failure_reason, successor, closed_at, closed_by}

A match id is derived from what caused the proposal (the intake; the decline, switch,
failed booking or expiry it follows; the empty proposal a waitlisted client waited on), so
handling that cause again finds the proposal it made instead of making a second one.
`origin` says which (`intake`, `decline`, `switch`, `booking_failed`, `expired`,
`waitlist`), `predecessor` the proposal it follows. The status machine is
`domain/proposal.py`; this module maps documents to it and back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from services.matching.domain.proposal import Proposal, Status, Step
from shared.events.common import Candidate
from shared.events.envelope import OutgoingEvent
from shared.events.models import MatchAccepted, MatchProposed
from shared.storage import Document
from shared.storage.documents import Change, Revision

COLLECTION = "proposals"


def proposal_of(document: Mapping[str, Any]) -> Proposal:
    return Proposal(
        match_id=document["_id"],
        client_id=document["client_id"],
        status=Status(document["status"]),
        candidates=tuple(c["therapist_id"] for c in document.get("candidates", ())),
        origin=document.get("origin", "intake"),
        sequence=int(document.get("sequence", 1)),
        accepted_therapist_id=document.get("accepted_therapist_id"),
        booked_therapist_id=document.get("booked_therapist_id"),
        closed_by=document.get("closed_by"),
        correlation_id=document.get("correlation_id"),
    )


def moving(move: Callable[[Proposal], Step | None], events: Sequence[OutgoingEvent] = ()) -> Change:
    """The change making `move` on the proposal as stored now (under its lease), with `events`
    when the step announces them; a proposal past the move is left as it is."""

    def change(current: Document) -> Revision | None:
        step = move(proposal_of(current))
        if step is None:
            return None
        return Revision(
            {**current, **step.records, "status": step.status.value}, events if step.announced else ()
        )

    return change


def new_proposal(
    proposed: MatchProposed, *, sequence: int, correlation_id: str, created_at: datetime
) -> Document:
    """The document of a proposal just made, as `proposed` announces it."""
    return {
        "_id": proposed.match_id,
        "client_id": proposed.client_id,
        "intake_id": proposed.intake_id,
        "status": Status.proposed.value,
        "origin": proposed.origin,
        "predecessor": proposed.predecessor_match_id,
        "sequence": sequence,
        "waitlisted": proposed.waitlisted,
        "candidates": [c.model_dump(mode="json") for c in proposed.candidates],
        "reasons": list(proposed.reasons),
        "session_format": proposed.session_format.value,
        "created_at": created_at,
        "expires_at": proposed.expires_at,
        "correlation_id": correlation_id,
        "declined_therapist_ids": [],
    }


def proposed_event(proposal: Mapping[str, Any]) -> MatchProposed:
    """The `match-proposed` a stored proposal was published with, as far as care relationships need it."""
    return MatchProposed(
        match_id=proposal["_id"],
        client_id=proposal["client_id"],
        intake_id=proposal["intake_id"],
        candidates=[Candidate.model_validate(c) for c in proposal.get("candidates", ())],
        reasons=list(proposal.get("reasons", ())),
        expires_at=proposal["expires_at"],
        origin=proposal.get("origin"),
        predecessor_match_id=proposal.get("predecessor"),
        waitlisted=not proposal.get("candidates"),
    )


def acceptance_of(proposal: Mapping[str, Any]) -> tuple[MatchAccepted, datetime]:
    """The `match-accepted` a stored proposal was accepted with, and when (to fold it at)."""
    accepted_at: datetime = proposal["accepted_at"]
    event = MatchAccepted(
        match_id=proposal["_id"],
        client_id=proposal["client_id"],
        therapist_id=proposal["accepted_therapist_id"],
        accepted_at=accepted_at,
    )
    return event, accepted_at
