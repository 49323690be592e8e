"""Mark one in-app inbox entry read (again is fine).

The inbox is the recipient's delivery log (`store/indexes.py`, kept in `deliveries`, one per
month): one write of the log of the month its delivery was created in, after a read of that
delivery. An entry that log does not list is in a log kept before: the recipient's one log from
before the month split, the one in `delivery_logs` before the log moved, or from before issue
18, the legacy `inboxes` index (`store/inbox.py`): the first that lists it is written instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.notifications.context import NotificationsContext
from services.notifications.store.indexes import IN_APP, UNREAD, log_id, month_of, read, unmonthed_log_id
from shared.ports import Documents


@dataclass(frozen=True, slots=True)
class ReadInboxEntry:
    recipient_id: str
    entry_id: str


async def read_inbox_entry(command: ReadInboxEntry, ctx: NotificationsContext) -> set[str]:
    """Mark the entry read in the recipient's inbox; return the ids still unread in the logs
    looked at (the one listing it, and those looked at before it)."""
    entry_id, recipient_id, stores = command.entry_id, command.recipient_id, ctx.stores
    delivery = await stores.deliveries.get(entry_id)
    logs: list[tuple[Documents, str]] = [
        (stores.deliveries, unmonthed_log_id(recipient_id)),
        (stores.delivery_logs, recipient_id),
        (stores.inboxes, recipient_id),
    ]
    if delivery is not None and delivery.get("created_at") is not None:
        logs.insert(0, (stores.deliveries, log_id(recipient_id, month_of(delivery["created_at"]))))
    unread: set[str] = set()
    for store, document_id in logs:
        log = await store.update(document_id, read(entry_id)) or {}
        unread |= set(log.get(UNREAD, []))
        if entry_id in log.get(IN_APP, []):
            break
    return unread
