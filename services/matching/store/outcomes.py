"""The `outcomes` collection: one record per therapist and concern, `_id = "<therapist_id>:<concern>"`.

    {_id, therapist_id, concern, clients: [{client_id, improved, deteriorated, at}], revision, updated_at}

Each client appears once, with their latest check-in's verdict (see `domain/outcomes.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.matching.domain.outcomes import OutcomeCounts, counts_of
from shared.storage import Document
from shared.storage.documents import Creation, Revision

COLLECTION = "outcomes"


def outcome_id(therapist_id: str, concern: str) -> str:
    return f"{therapist_id}:{concern}"


def record_outcome(
    therapist_id: str,
    concern: str,
    client_id: str,
    *,
    improved: bool,
    deteriorated: bool,
    at: datetime,
    now: datetime,
) -> Creation:
    """The client's latest verdict with this therapist in this concern; an older check-in never wins."""
    entry = {"client_id": client_id, "improved": improved, "deteriorated": deteriorated, "at": at}

    def change(current: Document | None) -> Revision | None:
        base: Document = current or {"therapist_id": therapist_id, "concern": concern, "clients": []}
        clients = list(base.get("clients", ()))
        for position, held in enumerate(clients):
            if held["client_id"] == client_id:
                if held["at"] >= at or (held["improved"], held["deteriorated"]) == (improved, deteriorated):
                    return None
                clients[position] = entry
                break
        else:
            clients.append(entry)
        return Revision(
            {**base, "clients": clients, "revision": int(base.get("revision", 0)) + 1, "updated_at": now}
        )

    return change


def counts_from_document(document: Mapping[str, Any]) -> tuple[str, str, OutcomeCounts, int]:
    """(therapist id, concern, counts, revision) of a stored record."""
    counts = counts_of(document.get("clients", ()))
    return document["therapist_id"], document["concern"], counts, int(document.get("revision", 0))
