"""A risk alert's paging of the on-call rota: who was paged, in order, and who is next.

One document per risk-flagged event (`risk:{event_id}`), changed under its lease, so two
deliveries failing at once escalate once: the change advances only from the clinician
who was paged last. Beside them, one watch list (`undelivered`) of the risk messages'
deliveries that have not reached anyone yet, for the metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


UNDELIVERED = "undelivered"
"""The watch list of risk alerts' deliveries not yet delivered (`domain/risk_alerts.py`).

One document in `alerts`, read by its `_id`, so the metrics find them without a scan of
`deliveries` (DESIGN §5). `commands/notify.py` adds a risk message's deliveries when it
claims them; `metrics.py` takes them off once their alert is delivered or old. A crash
between a claim and the addition is repaired by the event's redelivery, which adds the
deliveries it finds claimed.
"""


def watched(delivery_ids: Sequence[str]) -> Creation:
    """Add deliveries to the watch list (no change for those listed already)."""

    def change(current: Document | None) -> Revision | None:
        listed = list((current or {}).get("deliveries", []))
        new = [i for i in delivery_ids if i not in listed]
        if not new:
            return None
        return Revision({**(current or {}), "deliveries": [*listed, *new]})

    return change


def unwatched(delivery_ids: Iterable[str]) -> Creation:
    """Take deliveries off the watch list (no change for those not on it)."""
    gone = set(delivery_ids)

    def change(current: Document | None) -> Revision | None:
        listed = list((current or {}).get("deliveries", []))
        kept = [i for i in listed if i not in gone]
        if current is None or len(kept) == len(listed):
            return None
        return Revision({**current, "deliveries": kept})

    return change


def watch_list(document: Document | None) -> list[str]:
    return list((document or {}).get("deliveries", []))
