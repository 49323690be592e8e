"""Per-recipient index documents, so a recipient's delivery log and inbox are read by `_id`.

FerretDB serves only a lone `_id` equality from an index (DESIGN §5); listing one
recipient's deliveries with a filter would read everyone's. So each recipient has one
index document listing their delivery ids, newest first, written once per command when
`notify` claims them (`logged`). The in-app inbox is the same document (issue 18: one index
write per recipient, none at send time): `in_app` lists their in-app deliveries, `unread`
those not read yet, `held` those held by quiet hours, which have no entry until they go (a
delivered one keeps its entry: `store/inbox.py` shows one only once it exists). Known
shortcut: each list keeps the latest `MAX_INDEXED` ids (older deliveries stay in
`deliveries`, unlisted); the real fix is one index document per recipient and month.

The log lives in `deliveries` itself, keyed `log/{recipient_id}` (`log_id`: a `/` is in no
event id, so no delivery can have that key), with the recipient's id in `recipient_id`. So it
is claimed with the command's deliveries: a recipient's first log is inserted by the claims'
own `insert_many` (no read, no write of its own), and a later one changed by the bulk write
that records the deliveries' outcomes (one read, no write of its own). In `delivery_logs`
(keyed by recipient) it cost a read and a write per command. Logs written there before still
count (`log_of` lists them after the current one's ids; nothing writes one there but
mark-read) and erasure deletes both (`client_data.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from services.notifications.domain.delivery import DeliveryStatus
from services.notifications.store import NotificationStores
from shared.storage import Document
from shared.storage.documents import Creation, Revision

MAX_INDEXED = 1000

DELIVERIES = "deliveries"
IN_APP = "in_app"
UNREAD = "unread"
HELD = "held"
LISTS = (DELIVERIES, IN_APP, UNREAD, HELD)
LOG = "log/"


def log_id(recipient_id: str) -> str:
    """The `_id` of the recipient's delivery log in `deliveries`."""
    return f"{LOG}{recipient_id}"


def is_log(document: Mapping[str, Any]) -> bool:
    """Whether a document of `deliveries` is a recipient's log, not a delivery."""
    return str(document["_id"]).startswith(LOG)


def new_log(recipient_id: str, deliveries: Sequence[Mapping[str, Any]]) -> Document:
    """The recipient's log as it is claimed when they have none yet: listing `deliveries`."""
    first = logged(deliveries)({"recipient_id": recipient_id})
    return {"_id": log_id(recipient_id), "recipient_id": recipient_id, **(first.document if first else {})}


async def log_of(stores: NotificationStores, recipient_id: str) -> Document | None:
    """The recipient's delivery log (None: nothing was ever logged), its ids followed by those
    only a log kept in `delivery_logs` before it moved lists (older); read concurrently."""
    current, legacy = await asyncio.gather(
        stores.deliveries.get(log_id(recipient_id)), stores.delivery_logs.get(recipient_id)
    )
    if legacy is None or current is None:
        return current or legacy
    merged = {field: _then(current.get(field, []), legacy.get(field, [])) for field in LISTS}
    return {**current, **merged}


def _then(first: Sequence[str], second: Sequence[str]) -> list[str]:
    listed = set(first)
    return [*first, *(i for i in second if i not in listed)]


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
