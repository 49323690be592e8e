"""The waitlist's order: one document, `_id = "waitlist"` in the `waitlist` collection.

    {_id: "waitlist", entries: [{client_id, match_id, since, jurisdiction, languages, high_acuity}],
     updated_at}

Why one document: FerretDB serves only a lone `_id` equality from an index (DESIGN §5), so
"the oldest waiting clients" cannot be a query over per-client documents without reading
the whole collection each time. Per-entry documents keyed by a sortable `_id` would still
need an index document listing them; the entries themselves are small (ids and codes,
about 150 bytes), so the list is kept in that one document: a trigger reads it with one
`_id` lookup and walks it in memory (`domain/waitlist.py`). Every join and leave is one
write of it under its lease (`DocumentStore`), so replicas never lose each other's
changes. Clients wait here only while nobody at all can take them (an operator is
alerted for each), so the list stays short; at 16 MB (about 100,000 clients waiting) a
document would overflow, long before which the directory has a far bigger problem.

The client's own document (`clients.py`, field `waitlist`) says whether they wait and on
which proposal: it is written first, and this list follows it. An entry whose client no
longer waits on that proposal is stale (a crash between the two writes, or a leave that
raced a trigger) and is dropped when a trigger meets it; a trigger never proposes from
this list alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.matching.domain.waitlist import Waiting, in_order, joined, without
from shared.storage import Document
from shared.storage.documents import Change, Creation, Revision

COLLECTION = "waitlist"
WAITLIST_ID = "waitlist"


def entries_of(document: Mapping[str, Any] | None) -> list[Waiting]:
    """The waiting clients, oldest first."""
    return in_order(Waiting.from_document(entry) for entry in (document or {}).get("entries", ()))


def _stored(waiting: list[Waiting], now: datetime) -> Revision:
    return Revision({"entries": [w.to_document() for w in waiting], "updated_at": now})


def join(newcomer: Waiting, now: datetime) -> Creation:
    """Put the client on the list (in their place by `since`); the same wait again changes nothing."""

    def change(current: Document | None) -> Revision | None:
        held = entries_of(current)
        if newcomer in held:
            return None
        return _stored(joined(held, newcomer), now)

    return change


def drop(client_id: str, match_id: str | None, now: datetime) -> Change:
    """Take the client off the list, if they (still) wait on `match_id` (any wait with None)."""

    def change(current: Document) -> Revision | None:
        held = entries_of(current)
        kept = without(held, client_id, match_id)
        if len(kept) == len(held):
            return None
        return _stored(kept, now)

    return change
