"""Mark one in-app inbox entry read (again is fine).

The inbox is the recipient's delivery log (`store/indexes.py`, kept in `deliveries`): one
write of it. An entry it does not list is in the log as kept in `delivery_logs` before it
moved, or from before issue 18, in the legacy `inboxes` index (`store/inbox.py`): that one is
written instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.notifications.context import NotificationsContext
from services.notifications.store.indexes import IN_APP, UNREAD, log_id, read


@dataclass(frozen=True, slots=True)
class ReadInboxEntry:
    recipient_id: str
    entry_id: str


async def read_inbox_entry(command: ReadInboxEntry, ctx: NotificationsContext) -> set[str]:
    """Mark the entry read in the recipient's inbox; return the ids still unread."""
    entry_id, stores = command.entry_id, ctx.stores
    log = await stores.deliveries.update(log_id(command.recipient_id), read(entry_id)) or {}
    unread = set(log.get(UNREAD, []))
    if entry_id not in log.get(IN_APP, []):
        moved = await stores.delivery_logs.update(command.recipient_id, read(entry_id)) or {}
        unread |= set(moved.get(UNREAD, []))
        if entry_id not in moved.get(IN_APP, []):
            legacy = await stores.inboxes.update(command.recipient_id, read(entry_id)) or {}
            unread |= set(legacy.get(UNREAD, []))
    return unread
