"""The `proposals` collection: one document per match proposal, `_id = match_id`.

    {_id, client_id, intake_id, status, origin, predecessor, sequence, waitlisted,
     candidates: [{therapist_id, rank, score, factors, reasons, session_format}], reasons,
     session_format, created_at, expires_at, correlation_id,
     accepted_therapist_id, accepted_at, accepted_by, booked_therapist_id,
     declined_therapist_ids, successor, closed_by}

A match id is derived from what caused the proposal (the intake; the decline, switch,
failed booking or expiry it follows; the empty proposal a waitlisted client waited on), so
handling that cause again finds the proposal it made instead of making a second one.
`origin` says which (`intake`, `decline`, `switch`, `booking_failed`, `expired`,
`waitlist`), `predecessor` the proposal it follows. An empty proposal (`waitlisted`) puts
its client on the waitlist and never expires: the waitlist re-matches its client. Status
moves forward only:

    proposed -> accepted -> booked
       |           |          |
       +-----------+----------+--> declined | switched | failed | expired | superseded

Holds are released when a proposal leaves `proposed`/`accepted` (the booked therapist's
hold turns into a place in their caseload).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.events.common import Candidate
from shared.events.envelope import OutgoingEvent
from shared.events.models import MatchProposed, SessionBooked
from shared.storage import Document
from shared.storage.documents import Change, Revision

COLLECTION = "proposals"

PROPOSED = "proposed"
ACCEPTED = "accepted"
BOOKED = "booked"
DECLINED = "declined"
SWITCHED = "switched"
FAILED = "failed"
EXPIRED = "expired"
SUPERSEDED = "superseded"

HOLDING = frozenset({PROPOSED, ACCEPTED})
"""Statuses in which the candidates' capacity is held."""
OPEN = frozenset({PROPOSED, ACCEPTED, BOOKED})
"""Statuses a client may still accept, decline or switch from."""


def candidate_ids(proposal: Mapping[str, Any]) -> list[str]:
    return [c["therapist_id"] for c in proposal.get("candidates", ())]


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


def close(
    status: str,
    now: datetime,
    *,
    closed_by: str,
    events: Sequence[OutgoingEvent] = (),
    only_from: frozenset[str] = OPEN,
    **fields: Any,
) -> Change:
    """Move an open proposal to a closing status, with the event saying so; closed stays closed."""

    def change(current: Document) -> Revision | None:
        if current["status"] not in only_from:
            return None
        return Revision(
            {**current, **fields, "status": status, "closed_at": now, "closed_by": closed_by}, events
        )

    return change


def accept(therapist_id: str, now: datetime, events: Sequence[OutgoingEvent]) -> Change:
    def change(current: Document) -> Revision | None:
        if current["status"] not in (PROPOSED, BOOKED):
            return None
        status = BOOKED if current["status"] == BOOKED else ACCEPTED
        return Revision(
            {**current, "status": status, "accepted_therapist_id": therapist_id, "accepted_at": now}, events
        )

    return change


def book(
    therapist_id: str,
    now: datetime,
    *,
    accepted: Sequence[OutgoingEvent] = (),
    accepted_by: str | None = None,
) -> Change:
    """The proposal is booked with `therapist_id`.

    With `accepted` (the `match-accepted` event), the booking is also the client's
    acceptance of that therapist, recorded as `POST /matches/{id}/accept` records it, in
    the same write; it applies only while nobody is accepted yet.
    """

    def change(current: Document) -> Revision | None:
        if current["status"] not in HOLDING:
            return None
        booked = {**current, "status": BOOKED, "booked_therapist_id": therapist_id, "booked_at": now}
        if not accepted or current.get("accepted_therapist_id") is not None:
            return Revision(booked)
        return Revision(
            {**booked, "accepted_therapist_id": therapist_id, "accepted_at": now, "accepted_by": accepted_by},
            accepted,
        )

    return change


def chosen_by_booking(proposal: Mapping[str, Any] | None, event: SessionBooked) -> bool:
    """Whether the client's own booking is their choice of a therapist from `proposal`.

    The client booked (not a clinician, an admin, or the system booking a proposal at once)
    an introduction, naming this proposal, which is still open, names the therapist as a
    candidate and has nobody accepted yet.
    """
    return (
        proposal is not None
        and event.booked_by == "client"
        and event.kind == "introduction"
        and event.match_id == proposal["_id"]
        and proposal["status"] in HOLDING
        and proposal.get("accepted_therapist_id") is None
        and event.therapist_id in candidate_ids(proposal)
    )


def accepted_with(proposal: Mapping[str, Any] | None, therapist_id: str) -> bool:
    return proposal is not None and proposal.get("accepted_therapist_id") == therapist_id
