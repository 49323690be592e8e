"""Per-recipient index documents, so a recipient's delivery log and inbox are read by `_id`.

FerretDB serves only a lone `_id` equality from an index (DESIGN §5); listing one
recipient's deliveries with a filter would read everyone's. So each recipient has index
documents listing their delivery ids, newest first, written once per command when
`notify` claims them (`logged`). The in-app inbox is the same document (issue 18: one index
write per recipient, none at send time): `in_app` lists their in-app deliveries, `unread`
those not read yet, `held` those held by quiet hours, which have no entry until they go (a
delivered one keeps its entry: `store/inbox.py` shows one only once it exists).

One log per recipient and month (`log_id`: `log/{recipient_id}/{YYYY-MM}`, the month, in
UTC, in which each delivery was created), since every notice reads and rewrites its log
whole: a busy therapist's single log held their last thousand deliveries in each list (about
220 KB with `unread` full, read and written with every message to them, on every server). A
month's log lists at most `MAX_INDEXED` ids per list. The log and the inbox list the
current month and the `LISTED_MONTHS - 1` before it (`log_of` reads them concurrently);
older deliveries stay in `deliveries`, unlisted, until erasure or retention removes them.

The logs live in `deliveries` itself (a `/` is in no event id, so no delivery can have
that key), with the recipient's id in `recipient_id`. So a log is claimed with the
command's deliveries: a recipient's first log of a month is inserted by the claims' own
`insert_many` (no read, no write of its own), and a later one changed by the bulk write
that records the deliveries' outcomes (no write of its own; one read unless this replica
wrote it last: the store keeps what it wrote). Logs written
before still count, listed after the monthly ones (older): one per recipient at
`log/{recipient_id}` (before the month split), and one in `delivery_logs` (keyed by
recipient, before the log moved into `deliveries`). Nothing writes either but mark-read,
and erasure deletes them all (`client_data.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from services.notifications.domain.delivery import DeliveryStatus
from services.notifications.store import NotificationStores
from shared.storage import Document
from shared.storage.documents import Creation, Revision

MAX_INDEXED = 1000
"""Ids one month's log keeps per list (the newest)."""
LISTED_MONTHS = 13
"""Months the log and the inbox list: the current one and the twelve before."""

DELIVERIES = "deliveries"
IN_APP = "in_app"
UNREAD = "unread"
HELD = "held"
LISTS = (DELIVERIES, IN_APP, UNREAD, HELD)
LOG = "log/"


def month_of(at: datetime) -> str:
    """The month (`YYYY-MM`, UTC) whose log lists a delivery created at `at`."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m")


def log_id(recipient_id: str, month: str) -> str:
    """The `_id` in `deliveries` of the recipient's log of `month`."""
    return f"{LOG}{recipient_id}/{month}"


def unmonthed_log_id(recipient_id: str) -> str:
    """The `_id` of the one log a recipient had before logs were kept per month."""
    return f"{LOG}{recipient_id}"


def listed_months(now: datetime) -> list[str]:
    """The months the log and the inbox list at `now`, newest first."""
    utc = now.astimezone(UTC)
    year, month = utc.year, utc.month
    months = []
    for _ in range(LISTED_MONTHS):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months


def is_log(document: Mapping[str, Any]) -> bool:
    """Whether a document of `deliveries` is a recipient's log, not a delivery."""
    return str(document["_id"]).startswith(LOG)


def new_log(recipient_id: str, month: str, deliveries: Sequence[Mapping[str, Any]]) -> Document:
    """The recipient's log of `month` as it is claimed when there is none yet: listing `deliveries`."""
    first = logged(deliveries)({"recipient_id": recipient_id, "month": month})
    return {"_id": log_id(recipient_id, month), **(first.document if first else {})}


async def log_of(stores: NotificationStores, recipient_id: str, now: datetime) -> Document | None:
    """The recipient's delivery log as listed at `now` (None: nothing listed): the monthly logs'
    ids, newest month first, followed by those of the logs kept before (older); all read
    concurrently, each by `_id`."""
    ids = [log_id(recipient_id, month) for month in listed_months(now)]
    found = await asyncio.gather(
        *(stores.deliveries.get(i) for i in [*ids, unmonthed_log_id(recipient_id)]),
        stores.delivery_logs.get(recipient_id),
    )
    logs = [log for log in found if log is not None]
    if not logs:
        return None
    merged = {
        field: list(dict.fromkeys(chain.from_iterable(log.get(field, ()) for log in logs))) for field in LISTS
    }
    return {"recipient_id": recipient_id, **merged}


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
