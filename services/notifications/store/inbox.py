"""A recipient's in-app inbox, as their delivery log lists it (`indexes.py`), a page at a time.

Everything is read by `_id`: the logs (`log_of`) and the legacy `inboxes` document together, then
the deliveries of the held ones (to learn which went since: only those have an entry) and
of the page, concurrently. An entry is what its in-app delivery keeps once delivered
(`INBOX_ENTRY`, stored by the record of its outcome: `commands/deliver.py`), shown with the
delivery's kind, criticality and time. An in-app delivery is listed when it is claimed, so
one without an entry (held by quiet hours, or a moment before its send) is neither shown
nor counted.

Legacy, both still shown and marked read, both deleted by erasure with the rest:
- until the entry went into its delivery, a send inserted it in `inbox_entries` (keyed by
  the delivery id). A delivery delivered without an entry (or none at all) is looked up
  there: one more read, only for those. Nothing writes one any more.
- before issue 18 the inbox had its own index (`inboxes`: `entries`, `unread`), written at
  each send. Nothing writes one any more but mark-read; a recipient's existing one is still
  read, its entries listed after the log's (they are older), so no message already in
  someone's inbox disappears.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.notifications.domain.delivery import INBOX_ENTRY, DeliveryStatus
from services.notifications.store import NotificationStores
from services.notifications.store.indexes import HELD, IN_APP, UNREAD, log_of
from shared.storage import Document

LEGACY_ENTRIES = "entries"


@dataclass(frozen=True, slots=True)
class Inbox:
    entries: list[Document]
    """The page's entries, newest first."""
    total: int
    unread: frozenset[str]
    """Every unread entry shown, not only on this page."""


@dataclass(frozen=True, slots=True)
class InboxIndex:
    """The inbox as the index documents list it: some ids may have no entry yet (`held`)."""

    ids: list[str]
    unread: frozenset[str]
    held: frozenset[str]

    @classmethod
    def of(cls, log: Document | None, legacy: Document | None) -> InboxIndex:
        listed = list((log or {}).get(IN_APP, []))
        known = set(listed)
        older = [i for i in (legacy or {}).get(LEGACY_ENTRIES, []) if i not in known]
        return cls(
            ids=listed + older,
            unread=frozenset((log or {}).get(UNREAD, [])) | frozenset((legacy or {}).get(UNREAD, [])),
            held=frozenset((log or {}).get(HELD, [])),
        )


async def inbox_page(
    stores: NotificationStores, recipient_id: str, *, now: datetime, offset: int, limit: int
) -> Inbox:
    """The entries shown at `offset` (newest first), how many are shown, and which are unread,
    as the logs listed at `now` list them."""
    log, legacy = await asyncio.gather(log_of(stores, recipient_id, now), stores.inboxes.get(recipient_id))
    index = InboxIndex.of(log, legacy)
    went = await _entries(stores, index.held)
    shown = [i for i in index.ids if i not in index.held or i in went]
    wanted = shown[offset : offset + limit]
    entries = {**went, **await _entries(stores, (i for i in wanted if i not in went))}
    missing = {i for i in wanted if i not in entries}  # listed a moment before its send
    return Inbox(
        entries=[entries[i] for i in wanted if i in entries],
        total=len(shown) - len(missing),
        unread=frozenset(i for i in shown if i in index.unread and i not in missing),
    )


async def inbox_entry(stores: NotificationStores, entry_id: str) -> Document | None:
    """The entry shown for `entry_id`: its delivery's, else a legacy one; None while it has none."""
    delivery = await stores.deliveries.get(entry_id)
    if delivery is not None and INBOX_ENTRY in delivery:
        return entry_of(delivery)
    if delivery is None or delivery["status"] == DeliveryStatus.delivered:
        return await stores.inbox_entries.get(entry_id)  # sent before its delivery kept it
    return None


def entry_of(delivery: Document) -> Document:
    """A delivered in-app delivery as its inbox entry, shaped as the legacy `inbox_entries` ones."""
    return {
        **delivery[INBOX_ENTRY],
        "_id": delivery["_id"],
        "recipient_id": delivery["recipient_id"],
        "kind": delivery["kind"],
        "critical": delivery["critical"],
        "created_at": delivery["delivered_at"],
    }


async def _entries(stores: NotificationStores, ids: Iterable[str]) -> dict[str, Document]:
    """The entries of `ids` that exist, by id (read concurrently)."""
    wanted = list(ids)
    found = await asyncio.gather(*(inbox_entry(stores, i) for i in wanted))
    return {i: entry for i, entry in zip(wanted, found, strict=True) if entry is not None}
