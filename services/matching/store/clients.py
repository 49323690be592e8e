"""The `clients` collection: what matching keeps per client, `_id = client_id`.

    {_id, intake: {IntakeCompleted data}, correlation_id,
     excluded: [{therapist_id, reason}],   never proposed to this client again
     match_ids: [...], current_match_id, replaced_match_id (by the latest intake's),
     therapist_id (in care with, once booked), updated_at}

The latest intake is kept so a decline, a switch or a failed booking can be re-proposed
without asking intake again; the proposals are listed from here (by `_id`) rather than by a
query over all proposals. Exclusions for a missing slot (`no_slot`) last for one intake;
declines and switches stay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from shared.events.models import IntakeCompleted
from shared.storage import Document
from shared.storage.documents import Change, Creation, Revision

COLLECTION = "clients"

DECLINED = "declined"
SWITCHED = "switched"
NO_SLOT = "no_slot"
TEMPORARY = frozenset({NO_SLOT})


def excluded_ids(client: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(entry["therapist_id"] for entry in client.get("excluded", ()))


def intake_of(client: Mapping[str, Any]) -> IntakeCompleted:
    return IntakeCompleted.model_validate(client["intake"])


def record_intake(intake: IntakeCompleted, correlation_id: str, now: datetime, *, match_id: str) -> Creation:
    """Keep the client's latest intake and make `match_id` (its proposal) their current one.

    A new intake ends the exclusions that were only for the last; the proposal it replaces
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


def link_proposal(match_id: str, now: datetime) -> Change:
    """Make `match_id` the client's current proposal; the list keeps every one, oldest first."""

    def change(current: Document) -> Revision | None:
        match_ids = list(current.get("match_ids", ()))
        if match_id in match_ids:
            return None  # linked before: a newer proposal may be current by now
        match_ids.append(match_id)
        return Revision({**current, "match_ids": match_ids, "current_match_id": match_id, "updated_at": now})

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
