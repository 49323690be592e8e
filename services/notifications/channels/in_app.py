"""The in-app inbox: an entry per message, keyed by its delivery id.

A repeated send stores one entry. The entry is all a send writes: the recipient's delivery
log listed it, unread, when `notify` claimed the delivery (`store/indexes.py`), and the inbox
shows it once it exists (`store/inbox.py`).
"""

from __future__ import annotations

from contextlib import suppress

from services.notifications.channels import Outbound
from services.notifications.store import NotificationStores
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
