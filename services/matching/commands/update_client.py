"""Write a client's document and keep the waitlist's order in step with their wait.

The client's document says whether they wait (`clients.WAITLIST`); the one `waitlist`
document keeps the order (`store/waitlist.py`). The client's document is written first,
the order follows: a client who starts to wait is added to it (`join_waitlist`, from the
document as stored, so a retry adds the very same entry), and a write that ends their wait
takes them off it. A crash between the two leaves at most a stale entry, which the next
trigger that meets it drops (it never proposes from the list alone); a client waits in the
order only once their own document says so, so no trigger can drop an entry that is about
to become true.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.matching.context import Matching
from services.matching.store import clients as client_state
from services.matching.store import waitlist
from shared.events.envelope import Envelope
from shared.storage import Document
from shared.storage.documents import Change, Creation, Revision


async def update_client(
    matching: Matching, client_id: str, change: Change, *, cause: Envelope | None = None
) -> Document | None:
    """Apply `change` to the client's document (None when matching does not know the client)."""

    def existing(current: Document | None) -> Revision | None:
        return None if current is None else change(current)

    return await upsert_client(matching, client_id, existing, cause=cause)


async def upsert_client(
    matching: Matching, client_id: str, change: Creation, *, cause: Envelope | None = None
) -> Document | None:
    """Apply `change` to the client's document, or create it; a wait it ends leaves the order."""
    ended: list[str] = []

    def noting(current: Document | None) -> Revision | None:
        revision = change(current)
        before = client_state.wait_of(current)
        if revision is not None and before is not None:
            after = client_state.wait_of(revision.document)
            if after is None or after["match_id"] != before["match_id"]:
                ended.append(before["match_id"])
        return revision

    document = await matching.clients.upsert(client_id, noting, cause=cause)
    for match_id in ended:
        await matching.waitlist.update(
            waitlist.WAITLIST_ID, waitlist.drop(client_id, match_id, matching.clock())
        )
    return document


async def join_waitlist(matching: Matching, client: Mapping[str, Any] | None) -> None:
    """Put the client in the waitlist's order, if their document says they wait (idempotent)."""
    waiting = client_state.waiting_of(client) if client is not None else None
    if waiting is not None:
        await matching.waitlist.upsert(waitlist.WAITLIST_ID, waitlist.join(waiting, matching.clock()))
