"""Per-recipient index documents, so a recipient's inbox and delivery log are read by `_id`.

FerretDB serves only a lone `_id` equality from an index (DESIGN §5); listing one
recipient's deliveries with a filter would read everyone's. So each recipient has an
index document listing their ids, newest first. Known shortcut: the list keeps the
latest `MAX_INDEXED` ids (older deliveries stay in `deliveries`, unlisted); the real fix
is one index document per recipient and month.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.storage import Document
from shared.storage.documents import Creation, Revision

MAX_INDEXED = 1000


def listed(field: str, ids: Sequence[str], *, unread: bool = False) -> Creation:
    """Put `ids` first in the index's `field` (no change for ids listed already)."""

    def change(current: Document | None) -> Revision | None:
        document = current or {}
        known = list(document.get(field, []))
        new = [i for i in ids if i not in known]
        if not new:
            return None
        updated = {**document, field: (new[::-1] + known)[:MAX_INDEXED]}
        if unread:
            kept = set(updated[field])
            updated["unread"] = [i for i in [*new, *document.get("unread", [])] if i in kept]
        return Revision(updated)

    return change


def read(entry_id: str) -> Creation:
    """Mark one inbox entry read (idempotent)."""

    def change(current: Document | None) -> Revision | None:
        if current is None or entry_id not in current.get("unread", []):
            return None
        return Revision({**current, "unread": [i for i in current["unread"] if i != entry_id]})

    return change


def page(index: Document | None, field: str, *, offset: int, limit: int) -> tuple[list[str], int]:
    ids: list[str] = list((index or {}).get(field, []))
    return ids[offset : offset + limit], len(ids)
