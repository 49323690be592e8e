"""Mark one in-app inbox entry read (again is fine).

The inbox is the recipient's delivery log (`store/indexes.py`): one write of it. An entry
it does not list is from before issue 18, in the legacy `inboxes` index (`store/inbox.py`),
which is written instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.notifications.context import NotificationsContext
from services.notifications.store.indexes import IN_APP, UNREAD, read


@dataclass(frozen=True, slots=True)
class ReadInboxEntry:
    recipient_id: str
    entry_id: str


async def read_inbox_entry(command: ReadInboxEntry, ctx: NotificationsContext) -> set[str]:
    """Mark the entry read in the recipient's inbox; return the ids still unread."""
    log = await ctx.stores.delivery_logs.upsert(command.recipient_id, read(command.entry_id)) or {}
    unread = set(log.get(UNREAD, []))
    if command.entry_id not in log.get(IN_APP, []):
        legacy = await ctx.stores.inboxes.upsert(command.recipient_id, read(command.entry_id)) or {}
        unread |= set(legacy.get(UNREAD, []))
    return unread
