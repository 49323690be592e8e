"""Slot claims: one document per claimed cell, taken by a unique insert, released in place.

Why this is race-proof on FerretDB and MongoDB alike: a claim on a free cell is a unique
insert of its `_id`, and of any number of concurrent inserts of one `_id` exactly one
succeeds (the others get E11000); nothing reads first. Claims are never deleted: a released
claim stays as `status: released`, and taking it again is an `update` through the
`DocumentStore`, which holds the document's lease (itself a unique insert into `locks`)
while it checks the claim's `token` and writes a new one, so of two takers only the first
sees the token it expects. The one gap is the lease's own (see `shared/storage/locks.py`):
a takeover of a dead holder's lease in the same instant.

A booking's cells are taken in one round trip, whatever their number: one ordered insert
(`insert_in_order`), which stops at the first cell that exists. So bookings of the very same
slot (the common race: everyone is offered the earliest free one) are decided by its first
cell, and the losers hold nothing to release (one unordered insert would let such bookings
split the cells and all lose). Stopped at the first cell, that cell is settled alone and then
the rest go as one unordered `insert_many`; stopped further on, the cells from there on go as
one (two round trips then, as when the first cell went alone). Bookings that merely overlap
can split the shared cells between them; then the one holding the
first cell of the overlap (the later of the two first cells, recorded in each claim as
`first`) has precedence: the other gives up and releases, and the first waits (briefly,
bounded) for that release and takes the freed cells over by token. So of two overlapping
bookings exactly one wins, as when cells were claimed one by one, earliest first.

Bookings in one replica also see each other's cells before any round trip: the ledger
remembers, for `HELD_MEMORY_SECONDS`, the cells its bookings are taking or took
(`held_elsewhere`), until the calendar shows them. A replica handles many records at once,
and bookings of one popular therapist all read the same calendar and want the same
earliest slots: without this memory each lost every slot a sibling had taken, one round
trip each, and past `claim_attempts` failed. The memory only picks which slots to try;
the unique inserts still decide.

A claim whose booking never completed (the replica died between claiming and writing the
session) would keep a cell forever; it is an orphan when its holder's session does not
hold it, and an orphan is free to take after `orphan_grace` (far longer than a booking takes).
A cancelled session's claims are orphans at once (cancelling is final), so cancelling
releases nothing (`store/clients.py`): the next booking of those cells reads the care
record once and takes them over, instead of a lease-held release write per cell.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Iterable, Sequence
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from services.scheduling.store.care_documents import care_from_document
from shared.ports import Documents
from shared.storage import Document
from shared.storage.documents import Revision

HELD = "held"
RELEASED = "released"
HELD_MEMORY_SECONDS = 10.0
"""How long a cell this replica's booking took is remembered (the calendar shows it by then)."""


class _Found(Enum):
    """What a cell that existed already means for a booking that wants it."""

    ours = "ours"  # an earlier attempt of this very booking holds it
    free = "free"  # released, or orphaned: take it over by its token
    yielded = "yielded"  # held by an overlapping booking that gives way to this one
    lost = "lost"  # held by another booking (or gone): the slot is taken


class ClaimLedger:
    def __init__(
        self,
        claims: Documents,
        clients: Documents,
        *,
        orphan_grace: timedelta,
        yield_wait_seconds: float = 5.0,
    ) -> None:
        self._claims = claims
        self._clients = clients
        self._orphan_grace = orphan_grace
        self._yield_wait_seconds = yield_wait_seconds
        self._in_hand: dict[str, tuple[str, float]] = {}  # cell -> (holder, when taken)

    def held_elsewhere(self, claim_ids: Iterable[str], holder: str) -> bool:
        """Whether another booking in this replica takes or took one of `claim_ids` just now."""
        now = time.monotonic()
        for claim_id in claim_ids:
            entry = self._in_hand.get(claim_id)
            if entry is not None and entry[0] != holder and now - entry[1] < HELD_MEMORY_SECONDS:
                return True
        return False

    def _remember(self, claim_ids: Iterable[str], holder: str) -> None:
        now = time.monotonic()
        if len(self._in_hand) > 10_000:
            self._in_hand = {c: e for c, e in self._in_hand.items() if now - e[1] < HELD_MEMORY_SECONDS}
        for claim_id in claim_ids:
            self._in_hand[claim_id] = (holder, now)

    def _forget(self, claim_ids: Iterable[str], holder: str) -> None:
        for claim_id in claim_ids:
            entry = self._in_hand.get(claim_id)
            if entry is not None and entry[0] == holder:
                del self._in_hand[claim_id]

    async def take(
        self, claim_id: str, *, holder: str, client_id: str, therapist_id: str, now: datetime
    ) -> bool:
        """Claim one cell for `holder` (a session id); True if it is the holder's now."""
        return await self.take_all(
            [claim_id], holder=holder, client_id=client_id, therapist_id=therapist_id, now=now
        )

    async def take_all(
        self, claim_ids: Sequence[str], *, holder: str, client_id: str, therapist_id: str, now: datetime
    ) -> bool:
        """Claim every one of `claim_ids` (cells, earliest first) for `holder`, all or nothing.

        True when all are the holder's now; False when one is someone else's, having released
        again the ones this call took (also when it is cancelled half-way).
        """
        if not claim_ids:
            return True
        token = uuid.uuid4().hex
        first = claim_ids[0]
        claims = {
            claim_id: {
                "_id": claim_id,
                "holder": holder,
                "client_id": client_id,
                "therapist_id": therapist_id,
                "status": HELD,
                "token": token,
                "first": first,
                "claimed_at": now,
            }
            for claim_id in claim_ids
        }
        ours: set[str] = set()
        self._remember(claim_ids, holder)  # siblings in this replica try other slots meanwhile
        try:
            won = await self._take_in_order(claims, claim_ids, ours, now)
        except BaseException:
            self._forget(claim_ids, holder)
            # Shielded: a cancelled booking must not leave its cells behind.
            await asyncio.shield(self.release(ours, holder=holder, now=now))
            raise
        if not won:
            self._forget(claim_ids, holder)
            await self.release(ours, holder=holder, now=now)
        return won

    async def release(self, claim_ids: Iterable[str], *, holder: str, now: datetime) -> None:
        """Free the claims `holder` holds among `claim_ids` (others' claims are left alone).

        One lease-held update per claim, and no cheaper bulk write: on FerretDB a conditional
        write is a query then a write, so only the lease keeps a release from overwriting a
        takeover that checked the same token a moment earlier.
        """

        claim_ids = set(claim_ids)
        self._forget(claim_ids, holder)

        def free(document: dict[str, Any]) -> Revision | None:
            if document.get("holder") != holder or document.get("status") != HELD:
                return None
            return Revision({**document, "status": RELEASED, "released_at": now})

        await asyncio.gather(*(self._claims.update(claim_id, free) for claim_id in claim_ids))

    async def _take_in_order(
        self, claims: dict[str, dict[str, Any]], claim_ids: Sequence[str], ours: set[str], now: datetime
    ) -> bool:
        """All cells in one ordered insert, which stops at the first that exists. Stopped at the
        first cell, that cell is settled alone and the rest go as one unordered insert, as when
        it went first on its own; stopped further on, the cells from there go as one."""
        ours.update(claim_ids)  # in flight: a cancelled call may have written them all
        stopped = await self._claims.insert_in_order([claims[claim_id] for claim_id in claim_ids])
        if stopped is None:
            return True
        ours.difference_update(claim_ids[stopped:])
        if stopped == 0:
            first, rest = claim_ids[0], claim_ids[1:]
            return await self._settle(claims, {first}, ours, now) and await self._take(
                claims, rest, ours, now
            )
        return await self._take(claims, claim_ids[stopped:], ours, now)

    async def _take(
        self, claims: dict[str, dict[str, Any]], claim_ids: Sequence[str], ours: set[str], now: datetime
    ) -> bool:
        """Insert `claim_ids` in one round trip, then settle the ones that existed; adds what
        the holder holds to `ours` (before each write, so a cancelled call releases it)."""
        if not claim_ids:
            return True
        ours.update(claim_ids)  # in flight: a cancelled call may have written them all
        existed = await self._claims.insert_many([claims[claim_id] for claim_id in claim_ids])
        ours.difference_update(existed)
        return await self._settle(claims, existed, ours, now)

    async def _settle(
        self, claims: dict[str, dict[str, Any]], existed: set[str], ours: set[str], now: datetime
    ) -> bool:
        """Whether the booking may have the cells that existed: each one's verdict first, then
        (none lost) the takeovers; adds the cells taken to `ours`."""
        if not existed:
            return True
        contested = sorted(existed)
        found = await asyncio.gather(*(self._claims.get(claim_id) for claim_id in contested))
        holders: dict[str, Document | None] = {}  # one read of a holder's care serves all its cells
        verdicts = [
            await self._verdict(current, claims[claim_id], ours, now, holders)
            for claim_id, current in zip(contested, found, strict=True)
        ]
        if _Found.lost in verdicts:
            return False  # decided before any takeover: a loser takes nothing over
        takeovers: dict[str, Awaitable[bool]] = {}
        for claim_id, current, verdict in zip(contested, found, verdicts, strict=True):
            assert current is not None  # a missing claim is a lost one
            ours.add(claim_id)
            if verdict is _Found.free:
                takeovers[claim_id] = self._take_over(claims[claim_id], current["token"])
            elif verdict is _Found.yielded:
                takeovers[claim_id] = self._take_when_yielded(claims[claim_id], current["token"])
        taken = await asyncio.gather(*takeovers.values())
        ours.difference_update(c for c, got in zip(takeovers, taken, strict=True) if not got)
        return all(taken)

    async def _verdict(
        self,
        current: dict[str, Any] | None,
        claim: dict[str, Any],
        ours: set[str],
        now: datetime,
        holders: dict[str, Document | None],
    ) -> _Found:
        if current is None:
            return _Found.lost  # claims are never deleted; be conservative
        if current["status"] != HELD:
            return _Found.free
        if current["holder"] == claim["holder"]:
            return _Found.ours  # an earlier attempt of this very booking took it
        if await self._orphaned(current, now, holders):
            return _Found.free
        # Two bookings overlap from the later of their first cells on; whoever holds that
        # cell goes on, the other gives way (it sees that cell taken, and releases).
        overlap_starts = max(claim["first"], current.get("first") or current["_id"])
        if overlap_starts != claim["_id"] and overlap_starts in ours:
            return _Found.yielded
        return _Found.lost

    async def _take_over(self, claim: dict[str, Any], expected_token: str) -> bool:
        """Replace a free claim with ours, if it still carries the token we saw."""

        def take_over(document: dict[str, Any]) -> Revision | None:
            return Revision(claim) if document.get("token") == expected_token else None

        after = await self._claims.update(claim["_id"], take_over)
        return after is not None and after.get("token") == claim["token"]

    async def _take_when_yielded(self, claim: dict[str, Any], token: str) -> bool:
        """Wait (bounded) for a booking that gives way to release the cell, then take it over."""
        deadline = time.monotonic() + self._yield_wait_seconds
        delay = 0.002
        while time.monotonic() < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)
            current = await self._claims.get(claim["_id"])
            if current is None or current.get("token") != token:
                return False  # someone else took it meanwhile
            if current["status"] != HELD:
                return await self._take_over(claim, token)
        return False

    async def _orphaned(
        self, claim: dict[str, Any], now: datetime, holders: dict[str, Document | None]
    ) -> bool:
        """Whether a held claim's session does not (or no longer) hold it."""
        client_id = claim["client_id"]
        if client_id not in holders:
            holders[client_id] = await self._clients.get(client_id)
        document = holders[client_id]
        session = None if document is None else care_from_document(document).session(claim["holder"])
        if session is not None and not session.holds_time:
            return True  # cancelled: its release was lost
        if session is not None and claim["_id"] in session.claims:
            return False
        return bool(now - claim["claimed_at"] > self._orphan_grace)
