"""A client switches therapist (`match-accepted` of another one): care with the former ends.

The acceptance, folded into the care relationships, ends the former therapist's care in the
same write (`domain/consent.py`): their upcoming sessions are cancelled on the system's
behalf (`therapist_switched`), freeing their slots, and the series and check-ins with them
stop. The new therapist's slot nearest the client's next session (inside the client's
windows) becomes the introduction with them; the routine starts again only from the new
therapist's plan, once that introduction was held.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from pydantic import BaseModel

from services.scheduling.commands.book_first_session import Remember
from services.scheduling.commands.care_changes import introduction
from services.scheduling.commands.claim_slot import ClaimedSlot, claim_fitting_slot
from services.scheduling.commands.context import SOURCE, Scheduling
from services.scheduling.commands.events import session_booked
from services.scheduling.commands.ids import derived_id
from services.scheduling.commands.record_care import Decision, load_care, write_care
from services.scheduling.domain.care import Care, ProposalOutcome
from shared.events.envelope import Envelope, new_event
from shared.events.models import BookingFailed

NEAR_WINDOW = timedelta(days=7)


async def switch_therapist(
    ctx: Scheduling,
    client_id: str,
    therapist_id: str,
    *,
    match_id: str,
    session_format: str | None,
    cause: Envelope,
    remember: Remember,
    event: BaseModel | None = None,
) -> Care:
    care = await load_care(ctx, client_id) or Care(client_id=client_id)
    now = ctx.now()
    former = care.current_therapist(now)
    moving = care.upcoming(now, former) if former else []
    session_id = derived_id("ses", cause.id, "switch", therapist_id)
    claimed: ClaimedSlot | str = "no_free_slot"
    if moving:  # first try near the client's next session
        claimed = await claim_fitting_slot(
            ctx,
            session_id=session_id,
            client_id=client_id,
            therapist_id=therapist_id,
            client=care.client_windows,
            near=moving[0].starts_at,
            within=NEAR_WINDOW,
            new_client=True,
        )
    if not isinstance(claimed, ClaimedSlot):
        claimed = await claim_fitting_slot(
            ctx,
            session_id=session_id,
            client_id=client_id,
            therapist_id=therapist_id,
            client=care.client_windows,
            near=moving[0].starts_at if moving else None,
            new_client=True,
        )
    if not isinstance(claimed, ClaimedSlot):
        failed = _failed(ctx, match_id, therapist_id, claimed, cause, remember)
        return await write_care(ctx, client_id, failed, cause=cause, event=event)
    slot = claimed

    def decide(care: Care) -> Decision:
        care = remember(care, ProposalOutcome.booked, session_id)
        first = introduction(
            ctx,
            care,
            slot,
            session_id=session_id,
            format=session_format,
            match_id=match_id,
            booked_by="system",
        )
        care = care.with_sessions(first)
        return Decision(care, [session_booked(first, care, cause=cause, now=ctx.now())])

    return await write_care(
        ctx,
        client_id,
        decide,
        cause=cause,
        event=event,
        refs={session_id: therapist_id},
        claims={session_id: slot.claims, **{s.session_id: s.claims for s in moving}},
    )


def _failed(
    ctx: Scheduling, match_id: str, therapist_id: str, reason: str, cause: Envelope, remember: Remember
) -> Callable[[Care], Decision]:
    """Nothing moves; matching hears why the accepted therapist could not be booked."""

    def decide(care: Care) -> Decision:
        care = remember(care, ProposalOutcome.failed, None)
        failed = BookingFailed(
            match_id=match_id,
            client_id=care.client_id,
            reason=reason,
            tried_therapist_ids=[therapist_id],
            failed_at=ctx.now(),
        )
        return Decision(care, [new_event(failed, source=SOURCE, cause=cause, now=ctx.now())])

    return decide
