"""The in-app inbox: a send is the entry's content, kept by the delivery's own record.

A send does no I/O: it returns what the inbox shows of the message (title, body, locale),
and recording the delivered outcome stores that in the delivery document (`INBOX_ENTRY`),
in the one bulk write of the command's outcomes (`commands/deliver.py`). The recipient's
delivery log listed the delivery, unread, when `notify` claimed it (`store/indexes.py`), and
the inbox shows it once its delivery holds the entry (`store/inbox.py`). A send repeated
after a crash (sent, outcome not recorded) leaves nothing behind: only the recorded one
counts, so the inbox shows one entry.
"""

from __future__ import annotations

from services.notifications.channels import Outbound
from shared.storage import Document


class InAppSender:
    async def send(self, outbound: Outbound) -> Document:
        return in_app_entry(outbound)


def in_app_entry(outbound: Outbound) -> Document:
    """What the inbox shows of the message beside its delivery's kind, criticality and time."""
    return {
        "title": outbound.message.subject,
        "body": outbound.message.body,
        "locale": outbound.message.locale,
    }
