"""The in-app inbox: an entry per message, listed in the recipient's inbox index.

The entry is keyed by its delivery id, so a repeated send stores one entry; the index
(`inboxes`, keyed by recipient) lists it first and unread.
"""

from __future__ import annotations

from contextlib import suppress

from services.notifications.channels import Outbound
from services.notifications.store import NotificationStores
from services.notifications.store.indexes import listed
from shared.ports import Clock
from shared.storage import AlreadyExists


class InAppSender:
    def __init__(self, stores: NotificationStores, clock: Clock) -> None:
        self._stores = stores
        self._clock = clock

    async def send(self, outbound: Outbound) -> None:
        entry = {
            "_id": outbound.delivery_id,
            "recipient_id": outbound.recipient_id,
            "notification_id": outbound.notification_id,
            "kind": outbound.kind,
            "critical": outbound.critical,
            "title": outbound.message.subject,
            "body": outbound.message.body,
            "locale": outbound.message.locale,
            "created_at": self._clock(),
        }
        with suppress(AlreadyExists):  # stored by an earlier try whose outcome was not recorded
            await self._stores.inbox_entries.insert(entry)
        await self._stores.inboxes.upsert(
            outbound.recipient_id, listed("entries", [outbound.delivery_id], unread=True)
        )
