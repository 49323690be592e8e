"""Slot claims: one document per claimed cell, taken by a unique insert, released in place.

Why this is race-proof on FerretDB and MongoDB alike: a claim on a free cell is ONE
insert with a unique `_id`, and of any number of concurrent inserts of one `_id` exactly
one succeeds (the others get E11000); nothing reads first. Claims are never deleted (the
`Documents` port has no delete): a released claim stays as `status: released`, and taking
it again is an `update` through the `DocumentStore`, which holds the document's lease (itself
a unique insert into `locks`) while it checks the claim's `token` and writes a new one, so
of two takers only the first sees the token it expects. The one gap is the lease's own
(see `shared/storage/locks.py`): a takeover of a dead holder's lease in the same instant.

A claim whose booking never completed (the replica died between claiming and writing the
session) would keep a cell forever; it is an orphan when its holder's session does not
hold it, and an orphan is free to take after `orphan_grace` (far longer than a booking takes).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from services.scheduling.store.care_documents import care_from_document
from shared.ports import Documents
from shared.storage import AlreadyExists
from shared.storage.documents import Revision

HELD = "held"
RELEASED = "released"


class ClaimLedger:
    def __init__(self, claims: Documents, clients: Documents, *, orphan_grace: timedelta) -> None:
        self._claims = claims
        self._clients = clients
        self._orphan_grace = orphan_grace

    async def take(
        self, claim_id: str, *, holder: str, client_id: str, therapist_id: str, now: datetime
    ) -> bool:
        """Claim one cell for `holder` (a session id); True if it is the holder's now."""
        token = uuid.uuid4().hex
        claim = {
            "_id": claim_id,
            "holder": holder,
            "client_id": client_id,
            "therapist_id": therapist_id,
            "status": HELD,
            "token": token,
            "claimed_at": now,
        }
        try:
            await self._claims.insert(claim)
            return True
        except AlreadyExists:
            pass
        current = await self._claims.get(claim_id)
        if current is None:
            return False  # claims are never deleted; be conservative
        if current["status"] == HELD:
            if current["holder"] == holder:
                return True  # an earlier attempt of this very booking took it
            if not await self._orphaned(current, now):
                return False

        def take_over(document: dict[str, Any]) -> Revision | None:
            return Revision(claim) if document.get("token") == current["token"] else None

        after = await self._claims.update(claim_id, take_over)
        return after is not None and after.get("token") == token

    async def release(self, claim_ids: Iterable[str], *, holder: str, now: datetime) -> None:
        """Free the claims `holder` holds among `claim_ids` (others' claims are left alone)."""

        def free(document: dict[str, Any]) -> Revision | None:
            if document.get("holder") != holder or document.get("status") != HELD:
                return None
            return Revision({**document, "status": RELEASED, "released_at": now})

        await asyncio.gather(*(self._claims.update(claim_id, free) for claim_id in set(claim_ids)))

    async def _orphaned(self, claim: dict[str, Any], now: datetime) -> bool:
        """Whether a held claim's session does not (or no longer) hold it."""
        document = await self._clients.get(claim["client_id"])
        session = None if document is None else care_from_document(document).session(claim["holder"])
        if session is not None and not session.holds_time:
            return True  # cancelled: its release was lost
        if session is not None and claim["_id"] in session.claims:
            return False
        return bool(now - claim["claimed_at"] > self._orphan_grace)
