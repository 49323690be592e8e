"""A risk alert's paging of the on-call rota: who was paged, in order, and who is next.

One document per risk-flagged event (`risk:{event_id}`), changed under its lease, so two
deliveries failing at once escalate once: the change advances only from the clinician
who was paged last.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.storage import Document
from shared.storage.documents import Creation, Revision


def alert_id(event_id: str) -> str:
    return f"risk:{event_id}"


def opened(
    *,
    rota: Sequence[str],
    event_id: str,
    event_type: str,
    correlation_id: str,
    context: dict[str, Any],
) -> Creation:
    def change(current: Document | None) -> Revision | None:
        if current is not None:
            return None
        return Revision(
            {
                "rota": list(rota),
                "paged": list(rota[:1]),
                "event_id": event_id,
                "event_type": event_type,
                "correlation_id": correlation_id,
                "context": context,
                "exhausted": not rota,
            }
        )

    return change


def escalated_from(recipient_id: str) -> Creation:
    """Page the next one on the rota if `recipient_id` is the one paged last."""

    def change(current: Document | None) -> Revision | None:
        if current is None or not current["paged"] or current["paged"][-1] != recipient_id:
            return None
        remaining = [r for r in current["rota"] if r not in current["paged"]]
        if not remaining:
            return None if current.get("exhausted") else Revision({**current, "exhausted": True})
        return Revision({**current, "paged": [*current["paged"], remaining[0]]})

    return change
