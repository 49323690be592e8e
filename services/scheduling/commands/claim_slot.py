"""Claim a slot for a session: every cell it covers (buffers included) and a daily-cap ordinal.

All or nothing: cells are claimed earliest first, each by one unique insert (see
`store/claims.py`); when one is taken the cells this call got are released again and
the slot counts as taken. Of many requests for one slot, the one whose insert of the
first cell lands first wins; the others stop at that cell. Claims the session already
holds (a reschedule overlapping its old time) are kept, never released on failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.scheduling.commands.context import Scheduling
from services.scheduling.domain.availability import Availability
from services.scheduling.domain.claims import cell_claim_id, covering_cells, day_claim_id, is_day_claim
from services.scheduling.domain.local_time import local_day
from services.scheduling.domain.slots import Calendar, ClientWindows, Refusal, Slot
from services.scheduling.store.therapist_sessions import booked_of
from services.scheduling.store.therapists import availability_of


class SlotUnavailable(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal


@dataclass(frozen=True, slots=True)
class ClaimedSlot:
    """A slot now held for one session: its time, padded time and the claims that hold it."""

    therapist_id: str
    availability: Availability
    slot: Slot
    busy_from: datetime
    busy_to: datetime
    claims: tuple[str, ...]


async def claim_slot(
    ctx: Scheduling,
    *,
    session_id: str,
    client_id: str,
    therapist_id: str,
    availability: Availability,
    slot: Slot,
    held: Collection[str] = (),
) -> ClaimedSlot:
    """Claim `slot` for `session_id`, or raise `SlotUnavailable` having kept nothing new."""
    now = ctx.now()
    busy_from, busy_to = Calendar(availability, (), now=now).padded(slot)
    day = local_day(slot.starts_at, availability.zone)
    claims: list[str] = []
    taken: list[str] = []

    async def take(claim_id: str) -> bool:
        got = await ctx.ledger.take(
            claim_id, holder=session_id, client_id=client_id, therapist_id=therapist_id, now=now
        )
        if got:
            taken.append(claim_id)
            claims.append(claim_id)
        return got

    try:
        for cell in covering_cells(busy_from, busy_to):
            claim_id = cell_claim_id(therapist_id, cell)
            if claim_id in held:
                claims.append(claim_id)
            elif not await take(claim_id):
                raise SlotUnavailable(Refusal.taken)
        if availability.daily_cap is not None:
            kept = next((c for c in held if is_day_claim(c, therapist_id, day)), None)
            if kept is not None:
                claims.append(kept)
            elif not await _take_first(
                take, [day_claim_id(therapist_id, day, n) for n in range(1, availability.daily_cap + 1)]
            ):
                raise SlotUnavailable(Refusal.daily_cap_reached)
    except BaseException:
        # Shielded: a cancelled request must not leave its cells behind.
        await asyncio.shield(ctx.ledger.release(taken, holder=session_id, now=now))
        raise
    return ClaimedSlot(therapist_id, availability, slot, busy_from, busy_to, tuple(claims))


async def _take_first(take: Callable[[str], Awaitable[bool]], claim_ids: Sequence[str]) -> bool:
    for claim_id in claim_ids:
        if await take(claim_id):
            return True
    return False


async def claim_fitting_slot(
    ctx: Scheduling,
    *,
    session_id: str,
    client_id: str,
    therapist_id: str,
    client: ClientWindows | None,
    near: datetime | None = None,
    within: timedelta | None = None,
    new_client: bool = False,
) -> ClaimedSlot | str:
    """Claim the earliest free slot (or the one nearest `near`) fitting the client's windows.

    Returns the claimed slot, or a reason code when the therapist has none to give:
    `no_availability`, `not_accepting_new_clients`, `no_slot_in_client_windows`,
    `no_free_slot`, or `slots_taken` (every slot tried was claimed by someone else first).
    """
    availability = await availability_of(ctx.stores.therapists, therapist_id)
    if availability is None:
        return "no_availability"
    if new_client and not availability.accepting_new_clients:
        return "not_accepting_new_clients"
    now = ctx.now()
    calendar = Calendar(availability, await booked_of(ctx.stores.therapist_sessions, therapist_id), now=now)
    if near is not None and within is not None:
        slots = calendar.free_slots(near - within, near + within + timedelta(microseconds=1), client)
    else:
        slots = calendar.free_slots(now, calendar.latest + timedelta(microseconds=1), client)
    if near is not None:
        slots.sort(key=lambda s: (abs(s.starts_at - near), s.starts_at))
    if not slots:
        return "no_slot_in_client_windows" if client is not None else "no_free_slot"
    for slot in slots[: ctx.policy.claim_attempts]:
        try:
            return await claim_slot(
                ctx,
                session_id=session_id,
                client_id=client_id,
                therapist_id=therapist_id,
                availability=availability,
                slot=slot,
            )
        except SlotUnavailable:
            continue
    return "slots_taken"
