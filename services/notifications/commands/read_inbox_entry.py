"""Mark one in-app inbox entry read (again is fine)."""

from __future__ import annotations

from dataclasses import dataclass

from services.notifications.context import NotificationsContext
from services.notifications.store.indexes import read


@dataclass(frozen=True, slots=True)
class ReadInboxEntry:
    recipient_id: str
    entry_id: str


async def read_inbox_entry(command: ReadInboxEntry, ctx: NotificationsContext) -> set[str]:
    """Mark the entry read in the recipient's inbox; return the ids still unread."""
    index = await ctx.stores.inboxes.upsert(command.recipient_id, read(command.entry_id))
    return set((index or {}).get("unread", []))
