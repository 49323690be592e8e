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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from pydantic import BaseModel

from services.scheduling.commands.care_changes import introduction
from services.scheduling.commands.claim_slot import ClaimedSlot, claim_fitting_slot
from services.scheduling.commands.context import SOURCE, Scheduling
from services.scheduling.commands.events import session_booked
from services.scheduling.commands.ids import derived_id, new_session_id
from services.scheduling.commands.record_care import Decision, write_care
from services.scheduling.domain.care import Care, ProposalOutcome
from services.scheduling.domain.slots import ClientWindows
from shared.events.envelope import Envelope, new_event
from shared.events.models import BookingFailed

# When candidates fail for different reasons, the one that got furthest is reported.
_REASON_ORDER = (
    "slots_taken",
    "no_slot_in_client_windows",
    "no_free_slot",
    "not_accepting_new_clients",
    "no_availability",
)

Remember = Callable[[Care, ProposalOutcome, str | None], Care]
"""Records the proposal (and the client's windows) with its outcome and booked session."""


@dataclass(frozen=True, slots=True)
class FirstBooking:
    client_id: str
    match_id: str
    intake_id: str | None
    candidates: Sequence[tuple[str, str | None]]  # (therapist id, session format), best first
    client: ClientWindows | None


async def book_first_session(
    ctx: Scheduling,
    request: FirstBooking,
    *,
    cause: Envelope | None,
    remember: Remember,
    event: BaseModel | None = None,
) -> Care:
    """Book the introduction; `event` (what `cause` carries) is folded into the relationships."""
    session_id = derived_id("ses", cause.id, "first-session") if cause else new_session_id()
    reasons: list[str] = []
    tried: list[str] = []
    for therapist_id, session_format in request.candidates:
        tried.append(therapist_id)
        claimed = await claim_fitting_slot(
            ctx,
            session_id=session_id,
            client_id=request.client_id,
            therapist_id=therapist_id,
            client=request.client,
            new_client=True,
        )
        if isinstance(claimed, ClaimedSlot):
            return await _book(ctx, request, claimed, session_id, session_format, cause, remember, event)
        reasons.append(claimed)
    reason = min(reasons, key=_REASON_ORDER.index) if reasons else "no_candidates"
    return await _fail(ctx, request, reason, tried, cause, remember, event)


async def _book(
    ctx: Scheduling,
    request: FirstBooking,
    claimed: ClaimedSlot,
    session_id: str,
    session_format: str | None,
    cause: Envelope | None,
    remember: Remember,
    event: BaseModel | None,
) -> Care:
    def decide(care: Care) -> Decision:
        booked = care.booked_from(request.match_id)
        if booked is not None and booked.therapist_id == claimed.therapist_id:
            return Decision(care)  # booked meanwhile: this attempt's claims are released
        if care.current_therapist(ctx.now()) not in (None, claimed.therapist_id):
            # care began (or another therapist was chosen) meanwhile: keep the proposal for an acceptance
            return Decision(remember(care, ProposalOutcome.waiting, None))
        care = remember(care, ProposalOutcome.booked, session_id)
        first = introduction(
            ctx,
            care,
            claimed,
            session_id=session_id,
            format=session_format,
            match_id=request.match_id,
            booked_by="system",
        )
        care = care.with_sessions(first)
        return Decision(care, [session_booked(first, care, cause=cause, now=ctx.now())])

    return await write_care(
        ctx,
        request.client_id,
        decide,
        cause=cause,
        event=event,
        refs={session_id: claimed.therapist_id},
        claims={session_id: claimed.claims},
    )


async def _fail(
    ctx: Scheduling,
    request: FirstBooking,
    reason: str,
    tried: list[str],
    cause: Envelope | None,
    remember: Remember,
    event: BaseModel | None,
) -> Care:
    now = ctx.now()

    def decide(care: Care) -> Decision:
        care = remember(care, ProposalOutcome.failed, None)
        failed = BookingFailed(
            match_id=request.match_id,
            client_id=request.client_id,
            intake_id=request.intake_id,
            reason=reason,
            tried_therapist_ids=tried,
            failed_at=now,
        )
        if cause is not None:
            event = new_event(failed, source=SOURCE, cause=cause, now=now)
        else:
            event = new_event(failed, source=SOURCE, correlation_id=care.correlation_id, now=now)
        return Decision(care, [event])

    return await write_care(ctx, request.client_id, decide, cause=cause, event=event)


def accepted_only(request: FirstBooking, therapist_id: str, session_format: str | None) -> FirstBooking:
    """The request narrowed to the therapist the client accepted."""
    return replace(request, candidates=[(therapist_id, session_format)])
