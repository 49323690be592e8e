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
from dataclasses import dataclass, replace
from datetime import timedelta

from pydantic import BaseModel

from services.scheduling.commands.claim_slot import ClaimFittingSlot, claim_fitting_slot
from services.scheduling.context import SchedulingContext
from services.scheduling.domain.care import Care, ProposalOutcome
from services.scheduling.domain.care_changes import introduction
from services.scheduling.domain.events import booking_failed, session_booked
from services.scheduling.domain.ids import derived_id
from services.scheduling.domain.proposals import Remember
from services.scheduling.domain.slots import ClaimedSlot
from services.scheduling.store.clients import Decision, care_of, write_care
from shared.events.envelope import Envelope

NEAR_WINDOW = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class SwitchTherapist:
    """The client accepted `therapist_id` (`match_id`) while in care with (or starting care with)
    another; `remember` records the acceptance, `event` (what `cause` carries) is folded in."""

    client_id: str
    therapist_id: str
    match_id: str
    session_format: str | None
    cause: Envelope
    remember: Remember
    event: BaseModel | None = None


async def switch_therapist(command: SwitchTherapist, ctx: SchedulingContext) -> Care:
    client_id, therapist_id, cause = command.client_id, command.therapist_id, command.cause
    care = await care_of(ctx, client_id)
    now = ctx.now()
    former = care.current_therapist(now)
    moving = care.upcoming(now, former) if former else []
    near = moving[0].starts_at if moving else None
    session_id = derived_id("ses", cause.id, "switch", therapist_id)
    fitting = ClaimFittingSlot(
        session_id, client_id, therapist_id, care.client_windows, near=near, new_client=True
    )
    claimed: ClaimedSlot | str = "no_free_slot"
    if moving:  # first try near the client's next session
        claimed = await claim_fitting_slot(replace(fitting, within=NEAR_WINDOW), ctx)
    if not isinstance(claimed, ClaimedSlot):
        claimed = await claim_fitting_slot(fitting, ctx)
    if not isinstance(claimed, ClaimedSlot):
        return await write_care(
            ctx, client_id, _failed(ctx, command, claimed), cause=cause, event=command.event
        )
    slot = claimed

    def decide(care: Care) -> Decision:
        now = ctx.now()
        care = command.remember(care, ProposalOutcome.booked, session_id)
        first = introduction(
            care,
            slot,
            now=now,
            video_base_url=ctx.policy.video_base_url,
            session_id=session_id,
            format=command.session_format,
            match_id=command.match_id,
            booked_by="system",
        )
        care = care.with_sessions(first)
        return Decision(care, [session_booked(first, care, cause=cause, now=now)])

    return await write_care(
        ctx,
        client_id,
        decide,
        cause=cause,
        event=command.event,
        refs={session_id: therapist_id},
        claims={session_id: slot.claims, **{s.session_id: s.claims for s in moving}},
    )


def _failed(ctx: SchedulingContext, command: SwitchTherapist, reason: str) -> Callable[[Care], Decision]:
    """Nothing moves; matching hears why the accepted therapist could not be booked."""

    def decide(care: Care) -> Decision:
        care = command.remember(care, ProposalOutcome.failed, None)
        failed = booking_failed(
            care,
            match_id=command.match_id,
            intake_id=None,
            reason=reason,
            tried=[command.therapist_id],
            cause=command.cause,
            now=ctx.now(),
        )
        return Decision(care, [failed])

    return decide
