"""Claims left by a booking that died half-way: its retry reuses them, anyone may take them later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.scheduling.commands.book_session import BookSession, book_session
from services.scheduling.commands.claim_slot import ClaimFittingSlot, claim_fitting_slot
from services.scheduling.context import SchedulingContext
from services.scheduling.domain.ids import derived_id
from services.scheduling.domain.policy import Policy
from services.scheduling.domain.slots import ClaimedSlot
from services.scheduling.handlers.on_match_proposed import on_match_proposed
from shared.refusals import Refused
from tests.support.fakes import ManualClock
from tests.unit.scheduling.conftest import weekdays
from tests.unit.scheduling.support import available, care, envelope, events, propose, proposed

WEDNESDAY_10 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


async def test_a_proposal_handled_again_after_a_crash_books_the_slot_its_first_attempt_claimed(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    ctx = SchedulingContext(ctx.stores, Policy(book_at_once=True), clock)
    await available(ctx, "t-1", weekdays())
    event = proposed("c-1", ["t-1"], now=clock.now)
    cause = envelope(event, clock.now)
    # The first attempt claimed a slot, then its replica died before writing the session.
    crashed = await claim_fitting_slot(
        ClaimFittingSlot(
            session_id=derived_id("ses", cause.id, "first-session"),
            client_id="c-1",
            therapist_id="t-1",
            client=None,
        ),
        ctx,
    )
    assert isinstance(crashed, ClaimedSlot)

    await on_match_proposed(ctx)(event, cause)  # the event comes again

    [session] = (await care(ctx, "c-1")).sessions
    assert session.starts_at == crashed.slot.starts_at and set(session.claims) == set(crashed.claims)
    assert len(events(ctx, "session-booked")) == 1


async def test_claims_of_a_booking_that_never_completed_are_free_after_the_grace_period(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    orphaned = await claim_fitting_slot(
        ClaimFittingSlot(session_id="ses_lost", client_id="c-lost", therapist_id="t-1", client=None), ctx
    )
    assert isinstance(orphaned, ClaimedSlot)
    starts_at = orphaned.slot.starts_at
    await propose(ctx, "c-2", ["t-1"])

    with pytest.raises(Refused) as refused:  # a booking may still be finishing: the cells stay taken
        await book_session(BookSession(client_id="c-2", therapist_id="t-1", starts_at=starts_at), ctx)
    assert refused.value.code == "slot_taken"

    clock.advance(ctx.policy.claim_orphan_grace + timedelta(seconds=1))
    booked = await book_session(BookSession(client_id="c-2", therapist_id="t-1", starts_at=starts_at), ctx)
    assert booked.starts_at == starts_at


async def test_bookings_of_one_therapist_in_one_replica_skip_the_slots_their_siblings_hold(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    """The calendar shows none of these claims yet; two attempts each would fail the third on."""
    ctx = SchedulingContext(ctx.stores, Policy(claim_attempts=2), clock)
    await available(ctx, "t-1", weekdays())

    claimed = [
        await claim_fitting_slot(
            ClaimFittingSlot(session_id=f"ses_{n}", client_id=f"c-{n}", therapist_id="t-1", client=None), ctx
        )
        for n in range(6)
    ]

    slots = [c.slot.starts_at for c in claimed if isinstance(c, ClaimedSlot)]
    assert len(slots) == 6 and len(set(slots)) == 6
    assert slots == sorted(slots), "each the earliest slot no sibling holds"
