"""Per-recipient index documents, so a recipient's delivery log and inbox are read by `_id`.

FerretDB serves only a lone `_id` equality from an index (DESIGN §5); listing one
recipient's deliveries with a filter would read everyone's. So each recipient has one
index document (`delivery_logs`, keyed by recipient) listing their delivery ids, newest
first, written once per command when `notify` claims them (`logged`). The in-app inbox is
the same document (issue 18: one index write per recipient, none at send time): `in_app`
lists their in-app deliveries, `unread` those not read yet, `held` those held by quiet
hours, which have no entry until they go (a delivered one keeps its entry: `store/inbox.py`
shows one only once it exists). Known shortcut: each list keeps the latest `MAX_INDEXED`
ids (older deliveries stay in `deliveries`, unlisted); the real fix is one index document
per recipient and month.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.notifications.domain.delivery import DeliveryStatus
from shared.storage import Document
from shared.storage.documents import Creation, Revision

MAX_INDEXED = 1000

DELIVERIES = "deliveries"
IN_APP = "in_app"
UNREAD = "unread"
HELD = "held"


def logged(deliveries: Sequence[Mapping[str, Any]]) -> Creation:
    """Put the deliveries first in their recipient's log (no change for ids listed already);
    the in-app ones also first in the inbox, unread, and held if quiet hours hold them."""
    ids = [d["_id"] for d in deliveries]
    in_app = {d["_id"] for d in deliveries if d["channel"] == "in_app"}
    held = {d["_id"] for d in deliveries if d["_id"] in in_app and d["status"] == DeliveryStatus.held}

    def change(current: Document | None) -> Revision | None:
        document = current or {}
        known = list(document.get(DELIVERIES, []))
        new = [i for i in dict.fromkeys(ids) if i not in known]
        if not new:
            return None
        updated = {**document, DELIVERIES: (new[::-1] + known)[:MAX_INDEXED]}
        listed_in_app = list(document.get(IN_APP, []))
        if new_in_app := [i for i in new if i in in_app and i not in listed_in_app]:
            newest = new_in_app[::-1]
            kept = (newest + listed_in_app)[:MAX_INDEXED]
            updated[IN_APP] = kept
            updated[UNREAD] = _within([*newest, *document.get(UNREAD, [])], kept)
            updated[HELD] = _within([*(i for i in newest if i in held), *document.get(HELD, [])], kept)
        return Revision(updated)

    return change


def read(entry_id: str) -> Creation:
    """Mark one inbox entry read (idempotent); its entry exists, so it is no longer held."""

    def change(current: Document | None) -> Revision | None:
        if current is None or not any(entry_id in current.get(f, []) for f in (UNREAD, HELD)):
            return None
        kept = {f: [i for i in current[f] if i != entry_id] for f in (UNREAD, HELD) if f in current}
        return Revision({**current, **kept})

    return change


def page(index: Document | None, field: str, *, offset: int, limit: int) -> tuple[list[str], int]:
    ids: list[str] = list((index or {}).get(field, []))
    return ids[offset : offset + limit], len(ids)


def _within(ids: Sequence[str], kept: Sequence[str]) -> list[str]:
    listed = set(kept)
    return [i for i in ids if i in listed]
