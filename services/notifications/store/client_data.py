"""What notifications holds about a client, for their export and erasure (`shared/data_rights.py`).

The client's contact details are sealed with their data key, which erasure destroys;
their recipient document, delivery log (their in-app inbox too, kept among their deliveries,
and one kept in `delivery_logs` before), legacy inbox index and legacy in-app messages
(`inbox_entries`) are then deleted. The record of what was sent
(deliveries: kind, channel, status, times; never an address) and the session and
check-in reminders' dates are kept, flagged, as is the audit trail; a kept delivery loses
its in-app message (`INBOX_ENTRY`: the title and body the inbox showed).
"""

from __future__ import annotations

from collections.abc import Callable

from services.notifications.context import NotificationsContext
from services.notifications.domain.delivery import INBOX_ENTRY
from services.notifications.store.indexes import is_log
from shared.data_rights import ClientData, Holding, Retention
from shared.ports import Documents
from shared.security.client_keys import ClientKeys
from shared.security.field_encryption import FieldCipher
from shared.storage import Document

COMMUNICATIONS = Retention("record of clinical communications (risk alerts, reminders)", years=6)
SESSIONS = Retention("session dates: billing and clinical record retention", years=10)
ACCESS_AUDIT = Retention("audit trail of access to clinical data (HIPAA 164.316(b)(2))", years=6)


def client_data(
    ctx: NotificationsContext,
    *,
    keys: ClientKeys,
    cipher_of: Callable[[], FieldCipher],
    audit: Documents,
    erasures: Documents,
) -> ClientData:
    stores = ctx.stores
    return ClientData(
        service="notifications",
        holdings=(
            Holding(stores.recipients, field="_id"),  # opened by the store itself
            Holding(stores.inboxes, field="_id"),  # legacy (before issue 18): see store/inbox.py
            Holding(stores.inbox_entries, field="recipient_id"),  # legacy: see store/inbox.py
            Holding(stores.delivery_logs, field="_id"),  # a log kept there before it moved
            # Their deliveries, kept, and their delivery log among them (`store/indexes.py`), deleted.
            Holding(
                stores.deliveries,
                field="recipient_id",
                retain=COMMUNICATIONS,
                kept=is_delivery,
                scrub=without_message,
            ),
            Holding(stores.sessions, retain=SESSIONS),
            Holding(stores.check_ins, retain=SESSIONS),
            Holding(audit, retain=ACCESS_AUDIT),
        ),
        erasures=erasures,
        clock=ctx.clock,
        keys=keys,
        cipher_of=cipher_of,
    )


def is_delivery(document: Document) -> bool:
    """Kept: a record of what was sent; not the recipient's delivery log (their inbox) beside them."""
    return not is_log(document)


def without_message(delivery: Document) -> Document:
    """A kept delivery without the in-app message it held: the record says what was sent, not the text."""
    return {k: v for k, v in delivery.items() if k != INBOX_ENTRY}
