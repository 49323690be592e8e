"""The `clients` collection: what matching keeps per client, `_id = client_id`.

    {_id, intake: {IntakeCompleted data}, correlation_id,
     excluded: [{therapist_id, reason}],   never proposed to this client again
     match_ids: [...], current_match_id, replaced_match_id (by the latest intake's),
     therapist_id (in care with, once booked),
     relationships: [...],                 the care relationships (shared.care.relationship)
     waitlist: {match_id, since, sequence} | None,   waiting on this empty proposal
     updated_at}

The latest intake is kept so a decline, a switch, a failed booking or an expiry can be
re-proposed without asking intake again; the proposals are listed from here (by `_id`)
rather than by a query over all proposals. Exclusions for a missing slot (`no_slot`) last
for one intake; declines and switches stay.

`relationships` folds, with `CareRelationships.apply(event, ce_time)`, what matching
consumes (session-booked, session-attendance-recorded, treatment-plan-updated) and what it
produces (match-proposed, match-accepted, match-declined, folded right after the write that
stores them); every read of a client's matches is decided on it (`shared.care.access`).
`waitlist` is the truth about whether the client waits (`store/waitlist.py` keeps the order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from services.matching.domain.needs import ClientNeeds
from services.matching.domain.waitlist import Waiting
from services.matching.store import proposals
from shared.care.relationship import CareRelationships
from shared.events.models import IntakeCompleted
from shared.storage import Document
from shared.storage.documents import Change, Creation, Revision

COLLECTION = "clients"

DECLINED = "declined"
SWITCHED = "switched"
NO_SLOT = "no_slot"
TEMPORARY = frozenset({NO_SLOT})

RELATIONSHIPS = "relationships"
WAITLIST = "waitlist"


def excluded_ids(client: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(entry["therapist_id"] for entry in client.get("excluded", ()))


def intake_of(client: Mapping[str, Any]) -> IntakeCompleted:
    return IntakeCompleted.model_validate(client["intake"])


def care_of(client: Mapping[str, Any] | None) -> CareRelationships:
    """The client's care relationships as matching knows them (none for an unknown client)."""
    return CareRelationships.from_document((client or {}).get(RELATIONSHIPS))


def wait_of(client: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """`{match_id, since, sequence}` while the client waits on an empty proposal, else None."""
    found: Mapping[str, Any] | None = (client or {}).get(WAITLIST)
    return found


def waiting_of(client: Mapping[str, Any]) -> Waiting | None:
    """The client's waitlist entry, from their wait and their intake; None when not waiting."""
    wait = wait_of(client)
    if wait is None or not client.get("intake"):
        return None
    needs = ClientNeeds.from_intake(intake_of(client))
    return Waiting(
        client_id=client["_id"],
        match_id=wait["match_id"],
        since=wait["since"],
        jurisdiction=needs.jurisdiction,
        languages=needs.languages,
        high_acuity=needs.needs_high_acuity,
    )


def both(*changes: Change) -> Change:
    """One change doing each of `changes` in turn: one write of the document for all of them."""

    def change(current: Document) -> Revision | None:
        document = current
        changed = False
        for step in changes:
            revision = step(document)
            if revision is not None:
                document, changed = dict(revision.document), True
        return Revision(document) if changed else None

    return change


def record_intake(intake: IntakeCompleted, correlation_id: str, now: datetime, *, match_id: str) -> Creation:
    """Keep the client's latest intake and make `match_id` (its proposal) their current one.

    A new intake ends the exclusions that were only for the last, and the client's wait on
    the waitlist (its proposal decides whether they wait again); the proposal it replaces
    is kept as `replaced_match_id` (its holds are released). An older intake delivered late
    changes nothing: the newer one stands.
    """
    stored = intake.model_dump(mode="json")

    def change(current: Document | None) -> Revision | None:
        base: Document = current or {
            "excluded": [],
            "match_ids": [],
            "current_match_id": None,
            "therapist_id": None,
        }
        held = base.get("intake") or {}
        if held.get("intake_id") == intake.intake_id:
            return None
        if held and datetime.fromisoformat(held["submitted_at"]) > intake.submitted_at:
            return None
        excluded = [e for e in base.get("excluded", ()) if e["reason"] not in TEMPORARY]
        match_ids = [*base.get("match_ids", ()), match_id]
        return Revision(
            {
                **base,
                "intake": stored,
                "correlation_id": correlation_id,
                "excluded": excluded,
                "match_ids": list(dict.fromkeys(match_ids)),
                "current_match_id": match_id,
                "replaced_match_id": base.get("current_match_id"),
                WAITLIST: None,
                "updated_at": now,
            }
        )

    return change


def exclude(therapist_ids: Iterable[str], reason: str, now: datetime) -> Change:
    wanted = list(dict.fromkeys(therapist_ids))

    def change(current: Document) -> Revision | None:
        held = excluded_ids(current)
        added = [{"therapist_id": t, "reason": reason} for t in wanted if t not in held]
        if not added:
            return None
        return Revision({**current, "excluded": [*current.get("excluded", ()), *added], "updated_at": now})

    return change


def settle_proposal(proposal: Mapping[str, Any], now: datetime) -> Change:
    """What a stored proposal means for the client: linked, folded, and their wait.

    The proposal joins the client's list and becomes current (unless linked before: a
    newer one may be current by now); its `match-proposed` is folded into the
    relationships at the time it was made; and while it is the current one, the client
    waits on it when it is empty and waits no more when it names somebody.
    """
    match_id = proposal["_id"]
    event = proposals.proposed_event(proposal)
    made_at: datetime = proposal["created_at"]
    empty = not proposal.get("candidates")

    def change(current: Document) -> Revision | None:
        document = dict(current)
        match_ids = list(document.get("match_ids", ()))
        if match_id not in match_ids:
            document["match_ids"] = [*match_ids, match_id]
            document["current_match_id"] = match_id
        care = care_of(document).apply(event, made_at)
        document[RELATIONSHIPS] = care.to_document()
        if document.get("current_match_id") == match_id:
            wait = wait_of(document)
            if empty and (wait is None or wait["match_id"] != match_id):
                document[WAITLIST] = {
                    "match_id": match_id,
                    "since": made_at,
                    "sequence": int(proposal.get("sequence", 1)),
                }
            elif not empty:
                document[WAITLIST] = None
        if _same(document, current):
            return None
        return Revision({**document, "updated_at": now})

    return change


def fold(events: Sequence[tuple[BaseModel, datetime]], now: datetime) -> Change:
    """Fold events that move care relationships, each at its own time (`ce_time`)."""

    def change(current: Document) -> Revision | None:
        care = care_of(current)
        for event, at in events:
            care = care.apply(event, at)
        folded = care.to_document()
        if folded == current.get(RELATIONSHIPS, []):
            return None
        return Revision({**current, RELATIONSHIPS: folded, "updated_at": now})

    return change


def leave_waitlist(now: datetime) -> Change:
    """The client waits no more (matched otherwise, declined, booked)."""

    def change(current: Document) -> Revision | None:
        if wait_of(current) is None:
            return None
        return Revision({**current, WAITLIST: None, "updated_at": now})

    return change


def in_care_with(therapist_id: str | None, now: datetime, *, only_if: str | None = None) -> Change:
    """Set (or clear, with None) the therapist the client is in care with.

    `only_if` clears only when the client is still with that therapist.
    """

    def change(current: Document) -> Revision | None:
        if only_if is not None and current.get("therapist_id") != only_if:
            return None
        if current.get("therapist_id") == therapist_id:
            return None
        return Revision({**current, "therapist_id": therapist_id, "updated_at": now})

    return change


def _same(document: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    keys = set(document) | set(current)
    return all(document.get(k) == current.get(k) for k in keys if k != "updated_at")
