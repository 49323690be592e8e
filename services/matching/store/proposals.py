"""The `proposals` collection: one document per match proposal, `_id = match_id`.

    {_id, client_id, intake_id, status, origin, predecessor, sequence,
     candidates: [{therapist_id, rank, score, factors, reasons, session_format}], reasons,
     session_format, created_at, expires_at, correlation_id,
     accepted_therapist_id, booked_therapist_id, declined_therapist_ids, successor, closed_by}

A match id is derived from what caused the proposal (the intake, or the decline, switch or
failed booking it follows), so handling that cause again finds the proposal it made
instead of making a second one. Status moves forward only:

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

from shared.events.envelope import OutgoingEvent
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


def book(therapist_id: str, now: datetime) -> Change:
    def change(current: Document) -> Revision | None:
        if current["status"] not in HOLDING:
            return None
        return Revision({**current, "status": BOOKED, "booked_therapist_id": therapist_id, "booked_at": now})

    return change
