"""Book the first session of a proposal: the best-ranked candidate with a fitting slot.

Candidates are tried in rank order (one only, when the client accepted one); for each, the
earliest free slot inside the client's weekly windows (in the client's zone) and the
therapist's horizon is claimed. The first claim that holds becomes the introduction
(sequence 1, `booked_by: system`); nothing routine starts with it (the plan starts the
series). When no candidate has one, `booking-failed` names the reason and every therapist
tried. The session id is derived from the event being handled, so handling it again after
a crash claims and writes the very same session, never a second one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from pydantic import BaseModel

from services.scheduling.commands.claim_slot import ClaimFittingSlot, claim_fitting_slot
from services.scheduling.context import SchedulingContext
from services.scheduling.domain.care import Care, ProposalOutcome
from services.scheduling.domain.care_changes import introduction
from services.scheduling.domain.events import booking_failed, session_booked
from services.scheduling.domain.ids import derived_id, new_session_id
from services.scheduling.domain.proposals import Remember
from services.scheduling.domain.slots import ClaimedSlot, ClientWindows
from services.scheduling.store.clients import Decision, write_care
from shared.events.envelope import Envelope

# When candidates fail for different reasons, the one that got furthest is reported.
_REASON_ORDER = (
    "slots_taken",
    "no_slot_in_client_windows",
    "no_free_slot",
    "not_accepting_new_clients",
    "no_availability",
)


@dataclass(frozen=True, slots=True)
class BookFirstSession:
    """Book proposal `match_id`'s introduction with the first of `candidates` that has a slot
    in the `client`'s windows; `remember` records the proposal with the outcome, and `event`
    (what `cause` carries) is folded into the care relationships in the same write."""

    client_id: str
    match_id: str
    intake_id: str | None
    candidates: Sequence[tuple[str, str | None]]  # (therapist id, session format), best first
    client: ClientWindows | None
    cause: Envelope | None
    remember: Remember
    event: BaseModel | None = None

    def accepted_only(self, therapist_id: str, session_format: str | None) -> BookFirstSession:
        """The same booking narrowed to the therapist the client accepted."""
        return replace(self, candidates=[(therapist_id, session_format)])


async def book_first_session(command: BookFirstSession, ctx: SchedulingContext) -> Care:
    """Book the introduction, or tell matching why no candidate could be booked."""
    cause = command.cause
    session_id = derived_id("ses", cause.id, "first-session") if cause else new_session_id()
    reasons: list[str] = []
    tried: list[str] = []
    for therapist_id, session_format in command.candidates:
        tried.append(therapist_id)
        claimed = await claim_fitting_slot(
            ClaimFittingSlot(
                session_id=session_id,
                client_id=command.client_id,
                therapist_id=therapist_id,
                client=command.client,
                new_client=True,
            ),
            ctx,
        )
        if isinstance(claimed, ClaimedSlot):
            return await _book(ctx, command, claimed, session_id, session_format)
        reasons.append(claimed)
    reason = min(reasons, key=_REASON_ORDER.index) if reasons else "no_candidates"
    return await _fail(ctx, command, reason, tried)


async def _book(
    ctx: SchedulingContext,
    command: BookFirstSession,
    claimed: ClaimedSlot,
    session_id: str,
    session_format: str | None,
) -> Care:
    def decide(care: Care) -> Decision:
        booked = care.booked_from(command.match_id)
        if booked is not None and booked.therapist_id == claimed.therapist_id:
            return Decision(care)  # booked meanwhile: this attempt's claims are released
        now = ctx.now()
        if care.current_therapist(now) not in (None, claimed.therapist_id):
            # care began (or another therapist was chosen) meanwhile: keep the proposal for an acceptance
            return Decision(command.remember(care, ProposalOutcome.waiting, None))
        care = command.remember(care, ProposalOutcome.booked, session_id)
        first = introduction(
            care,
            claimed,
            now=now,
            video_base_url=ctx.policy.video_base_url,
            session_id=session_id,
            format=session_format,
            match_id=command.match_id,
            booked_by="system",
        )
        care = care.with_sessions(first)
        return Decision(care, [session_booked(first, care, cause=command.cause, now=now)])

    return await write_care(
        ctx,
        command.client_id,
        decide,
        cause=command.cause,
        event=command.event,
        refs={session_id: claimed.therapist_id},
        claims={session_id: claimed.claims},
    )


async def _fail(ctx: SchedulingContext, command: BookFirstSession, reason: str, tried: list[str]) -> Care:
    now = ctx.now()

    def decide(care: Care) -> Decision:
        care = command.remember(care, ProposalOutcome.failed, None)
        failed = booking_failed(
            care,
            match_id=command.match_id,
            intake_id=command.intake_id,
            reason=reason,
            tried=tried,
            cause=command.cause,
            now=now,
        )
        return Decision(care, [failed])

    return await write_care(ctx, command.client_id, decide, cause=command.cause, event=command.event)
