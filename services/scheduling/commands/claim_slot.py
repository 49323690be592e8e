"""Claim a slot for a session: every cell it covers (buffers included) and a daily-cap ordinal.

`claim_slot` claims one slot; `claim_start` the one a caller asked for, refusing it when it
is not bookable; `claim_fitting_slot` the earliest (or nearest) free one in the client's windows.

All or nothing: the cells are claimed together, each by its own unique insert, in one
ordered insert (`ClaimLedger.take_all`, see `store/claims.py`); when one is taken the cells
this call got are released again and the slot counts as taken. Of many requests for one
slot, the one whose insert of the first cell lands first wins; the others stop at that
cell. Then a daily-cap ordinal, the lowest free one. Claims the session already holds (a
reschedule overlapping its old time) are kept, never released on failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.scheduling.context import SchedulingContext
from services.scheduling.domain.availability import Availability
from services.scheduling.domain.claims import cell_claim_id, covering_cells, day_claim_id, is_day_claim
from services.scheduling.domain.local_time import local_day
from services.scheduling.domain.slot_refusals import refused
from services.scheduling.domain.slots import Calendar, ClaimedSlot, ClientWindows, Refusal, Slot
from services.scheduling.store.therapist_sessions import booked_of
from services.scheduling.store.therapists import availability_of
from shared.refusals import Conflict

SKIPPABLE = 16
"""Free slots looked at per claim attempt, so that slots held in this replica can be skipped."""


class SlotUnavailable(Exception):
    """The slot could not be claimed (`refusal` says why); nothing new is kept."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal


@dataclass(frozen=True, slots=True)
class ClaimSlot:
    """Claim `slot` of the therapist for `session_id`, keeping the claims it `held` already."""

    session_id: str
    client_id: str
    therapist_id: str
    availability: Availability
    slot: Slot
    held: Collection[str] = ()


@dataclass(frozen=True, slots=True)
class ClaimStart:
    """Claim the slot a caller asked for, starting at `starts_at` on the therapist's `calendar`."""

    session_id: str
    client_id: str
    therapist_id: str
    calendar: Calendar
    starts_at: datetime
    held: Collection[str] = ()


@dataclass(frozen=True, slots=True)
class ClaimFittingSlot:
    """Claim the therapist's earliest free slot (or the one nearest `near`, within `within`)
    inside the client's windows; a `new_client` only from a therapist accepting new clients."""

    session_id: str
    client_id: str
    therapist_id: str
    client: ClientWindows | None
    near: datetime | None = None
    within: timedelta | None = None
    new_client: bool = False


async def claim_slot(command: ClaimSlot, ctx: SchedulingContext) -> ClaimedSlot:
    """Claim the slot for the session, or raise `SlotUnavailable` having kept nothing new."""
    session_id, therapist_id, availability, held = (
        command.session_id,
        command.therapist_id,
        command.availability,
        command.held,
    )
    now = ctx.now()
    busy_from, busy_to = Calendar(availability, (), now=now).padded(command.slot)
    day = local_day(command.slot.starts_at, availability.zone)
    cells = _cells_between(therapist_id, busy_from, busy_to)
    claims = list(cells)
    taken: list[str] = []

    async def take(claim_id: str) -> bool:
        got = await ctx.ledger.take(
            claim_id, holder=session_id, client_id=command.client_id, therapist_id=therapist_id, now=now
        )
        if got:
            taken.append(claim_id)
            claims.append(claim_id)
        return got

    try:
        wanted = [claim_id for claim_id in cells if claim_id not in held]
        if not await ctx.ledger.take_all(
            wanted, holder=session_id, client_id=command.client_id, therapist_id=therapist_id, now=now
        ):
            raise SlotUnavailable(Refusal.taken)  # the ledger released what it took
        taken.extend(wanted)
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
    return ClaimedSlot(therapist_id, availability, command.slot, busy_from, busy_to, tuple(claims))


def _cells(command: ClaimSlot, now: datetime) -> list[str]:
    """The claim ids of every cell `command`'s slot covers, its buffers included."""
    return _cells_between(
        command.therapist_id, *Calendar(command.availability, (), now=now).padded(command.slot)
    )


def _cells_between(therapist_id: str, busy_from: datetime, busy_to: datetime) -> list[str]:
    return [cell_claim_id(therapist_id, cell) for cell in covering_cells(busy_from, busy_to)]


async def _take_first(take: Callable[[str], Awaitable[bool]], claim_ids: Sequence[str]) -> bool:
    for claim_id in claim_ids:
        if await take(claim_id):
            return True
    return False


async def claim_start(command: ClaimStart, ctx: SchedulingContext) -> ClaimedSlot:
    """Claim the asked-for slot, or refuse naming why (`domain/slot_refusals.py`)."""
    if (refusal := command.calendar.refusal(command.starts_at)) is not None:
        raise refused(refusal)
    availability = command.calendar.availability
    slot = Slot(command.starts_at, command.starts_at + timedelta(minutes=availability.session_minutes))
    claim = ClaimSlot(
        command.session_id, command.client_id, command.therapist_id, availability, slot, held=command.held
    )
    try:
        return await claim_slot(claim, ctx)
    except SlotUnavailable as unavailable:
        raise refused(unavailable.refusal) from unavailable


async def offered_availability(ctx: SchedulingContext, therapist_id: str) -> Availability:
    """The therapist's availability, or the refusal of a booking with one who published none."""
    availability = await availability_of(ctx.stores.therapists, therapist_id)
    if availability is None:
        raise Conflict("the therapist has published no availability", code="slot_not_offered")
    return availability


async def claim_fitting_slot(command: ClaimFittingSlot, ctx: SchedulingContext) -> ClaimedSlot | str:
    """Claim the earliest free slot (or the one nearest `near`) fitting the client's windows.

    Returns the claimed slot, or a reason code when the therapist has none to give:
    `no_availability`, `not_accepting_new_clients`, `no_slot_in_client_windows`,
    `no_free_slot`, or `slots_taken` (every slot tried was claimed by someone else first).
    """
    therapist_id, client, near, within = command.therapist_id, command.client, command.near, command.within
    availability = await availability_of(ctx.stores.therapists, therapist_id)
    if availability is None:
        return "no_availability"
    if command.new_client and not availability.accepting_new_clients:
        return "not_accepting_new_clients"
    now = ctx.now()
    # Read for writing: a slot claimed here is booked at once, and the calendar's write then
    # reads nothing more: the store keeps what this read found, and the write checks that the
    # calendar is still that revision (one read of the calendar per booking, two before; no
    # lease: with many bookings wanting a popular therapist's calendar, holding one for the
    # whole booking queued them, p99 2.7 -> 21 s). The claims still decide; the calendar only
    # picks the slots to try, and its write applies its change to the calendar as it then is.
    booked = await booked_of(ctx.stores.therapist_sessions, therapist_id, writing=True)
    calendar = Calendar(availability, booked, now=now)
    attempts = max(1, ctx.policy.claim_attempts)
    # Beyond the attempts: the slots this replica's other bookings hold are skipped uncounted.
    slots = fitting_slots(calendar, client, now=now, near=near, within=within, attempts=SKIPPABLE * attempts)
    if not slots:
        return "no_slot_in_client_windows" if client is not None else "no_free_slot"
    tries = (
        ClaimSlot(command.session_id, command.client_id, therapist_id, availability, slot) for slot in slots
    )
    claimed = await claim_first(tries, ctx, attempts=attempts)
    return "slots_taken" if claimed is None else claimed


def fitting_slots(
    calendar: Calendar,
    client: ClientWindows | None,
    *,
    now: datetime,
    near: datetime | None,
    within: timedelta | None,
    attempts: int,
) -> list[Slot]:
    """The free slots `claim_fitting_slot` tries, best first, at most `attempts` of them.

    Best is earliest over the whole horizon; with `near`, closest to it (earlier on a tie),
    within `within` of it when given. Earliest first needs only the first `attempts` free
    slots, so the search stops there instead of checking every slot of the horizon.
    """
    if near is not None and within is not None:
        slots = calendar.free_slots(near - within, near + within + timedelta(microseconds=1), client)
    else:
        slots = calendar.free_slots(
            now,
            calendar.latest + timedelta(microseconds=1),
            client,
            limit=attempts if near is None else None,
        )
    if near is not None:
        slots.sort(key=lambda s: (abs(s.starts_at - near), s.starts_at))
    return slots[:attempts]


async def claim_first(
    commands: Iterable[ClaimSlot], ctx: SchedulingContext, *, attempts: int | None = None
) -> ClaimedSlot | None:
    """The first of these claims that nobody else makes first; None when every slot was taken.

    A slot another booking in this replica is taking (or just took) is passed over without a
    round trip, and without counting toward `attempts` (default: the policy's).
    """
    left = ctx.policy.claim_attempts if attempts is None else attempts
    for command in commands:
        if left <= 0:
            break
        if ctx.ledger.held_elsewhere(_cells(command, ctx.now()), command.session_id):
            continue
        left -= 1
        try:
            return await claim_slot(command, ctx)
        except SlotUnavailable:
            continue
    return None
