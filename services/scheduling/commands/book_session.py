"""Book a given slot directly (`POST /v1/sessions`): 201, or a refusal naming why not.

Care follows consent (`domain/consent.py`): a client books only with a therapist proposed
to them (a candidate of a proposal that has not expired) or one they chose or are in care
with; anything else is refused with 409 `therapist_not_proposed` and the reason. An admin
may book anyway only by naming an `override_reason` (a code), kept on the session; such a
booking grants the therapist nothing. What gets booked:

- with the therapist the client is in care with: one more therapy session of their series;
- otherwise the introduction with that therapist (sequence 1 of a new series). A client's
  own booking of a proposed therapist is their choice (`booked_by: client` ⇒ *chosen*,
  which ends care with anyone else); the proposal is recorded as booked, so the
  `match-accepted` matching publishes for it books nothing more. A chosen therapist's
  introduction may be booked again after a missed or cancelled one, one at a time (a
  booked one is moved, not doubled).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from services.scheduling.commands.claim_slot import ClaimStart, claim_start, offered_availability
from services.scheduling.context import SchedulingContext
from services.scheduling.domain.care import Care, ProposalOutcome, Session, SessionKind
from services.scheduling.domain.care_changes import introduction, session_from_claim
from services.scheduling.domain.consent import NOT_PROPOSED, REFUSALS, BookingConsent, booking_consent
from services.scheduling.domain.events import Booker, session_booked
from services.scheduling.domain.ids import new_session_id
from services.scheduling.domain.slot_refusals import invalid
from services.scheduling.domain.slots import Calendar, ClaimedSlot
from services.scheduling.store.clients import Decision, care_of, write_care
from services.scheduling.store.therapist_sessions import booked_of
from shared.care.relationship import CareState
from shared.refusals import Conflict, FieldProblem

_MAY_OVERRIDE = ("admin", "system")


@dataclass(frozen=True, slots=True)
class BookSession:
    """Book the therapist's slot starting at `starts_at` for the client, as `booked_by` asks
    (an admin outside the client's consent only by naming an `override_reason`)."""

    client_id: str
    therapist_id: str
    starts_at: datetime
    booked_by: Booker = "client"
    override_reason: str | None = None
    session_format: str | None = None
    timezone: str | None = None  # the client's, for display


async def book_session(command: BookSession, ctx: SchedulingContext) -> Session:
    client_id, therapist_id, starts_at = command.client_id, command.therapist_id, command.starts_at
    booked_by, override_reason = command.booked_by, command.override_reason
    if override_reason is not None and booked_by not in _MAY_OVERRIDE:
        raise invalid(
            "body.override_reason",
            "only an admin may book outside the client's consent",
            code="override_not_allowed",
        )
    availability = await offered_availability(ctx, therapist_id)
    care = await care_of(ctx, client_id)
    now = ctx.now()
    consent = _consented(care, therapist_id, now, booked_by, override_reason)
    if not consent.chosen and not availability.accepting_new_clients:
        raise Conflict("the therapist is not accepting new clients", code="not_accepting_new_clients")
    _one_introduction_at_a_time(care, therapist_id, now)
    calendar = Calendar(availability, await booked_of(ctx.stores.therapist_sessions, therapist_id), now=now)
    session_id = new_session_id()
    claimed = await claim_start(ClaimStart(session_id, client_id, therapist_id, calendar, starts_at), ctx)

    def decide(care: Care) -> Decision:
        now = ctx.now()
        consent = _consented(care, therapist_id, now, booked_by, override_reason)
        if care.timezone is None and command.timezone is not None:
            care = replace(care, timezone=command.timezone)
        if care.in_care_with == therapist_id:
            care, session = _therapy(ctx, care, claimed, session_id, command, now)
        else:
            _one_introduction_at_a_time(care, therapist_id, now)
            session = introduction(
                care,
                claimed,
                now=now,
                video_base_url=ctx.policy.video_base_url,
                session_id=session_id,
                format=command.session_format,
                match_id=consent.match_id if consent.given else None,
                booked_by=booked_by,
                override_reason=override_reason,
            )
            care = _proposal_booked(care.with_sessions(session), consent, session, booked_by)
        return Decision(care, [session_booked(session, care, cause=None, now=now)])

    stored = await write_care(
        ctx, client_id, decide, refs={session_id: therapist_id}, claims={session_id: claimed.claims}
    )
    session = stored.session(session_id)
    assert session is not None
    return session


def _consented(
    care: Care, therapist_id: str, now: datetime, booked_by: Booker, override_reason: str | None
) -> BookingConsent:
    """The client's consent to book this therapist, or the refusal (an admin may override it)."""
    consent = booking_consent(care, therapist_id, now)
    if consent.given or (booked_by in _MAY_OVERRIDE and override_reason is not None):
        return consent
    assert consent.refusal is not None
    detail = REFUSALS[consent.refusal]
    field = "body.therapist_id"
    if booked_by in _MAY_OVERRIDE:
        detail += "; an admin may book anyway by naming an override_reason"
        field = "body.override_reason"
    raise Conflict(detail, code=NOT_PROPOSED, reason=consent.refusal, errors=[FieldProblem(field, detail)])


def _one_introduction_at_a_time(care: Care, therapist_id: str, now: datetime) -> None:
    if care.in_care_with != therapist_id and care.upcoming_introduction(therapist_id, now) is not None:
        detail = "an introduction with this therapist is booked already; move it instead"
        raise Conflict(
            detail, code="introduction_already_booked", errors=[FieldProblem("body.therapist_id", detail)]
        )


def _therapy(
    ctx: SchedulingContext,
    care: Care,
    claimed: ClaimedSlot,
    session_id: str,
    command: BookSession,
    now: datetime,
) -> tuple[Care, Session]:
    """One more therapy session with the therapist the client is in care with, in their series."""
    therapist_id = claimed.therapist_id
    series = care.series if care.routine_with(therapist_id) else None
    first = care.held_introduction(therapist_id)
    series_id = series.series_id if series is not None else first.series_id if first else session_id
    sequence = max(care.next_sequence(series_id), series.next_sequence if series is not None else 0)
    session = session_from_claim(
        care,
        claimed,
        now=now,
        video_base_url=ctx.policy.video_base_url,
        session_id=session_id,
        series_id=series_id,
        sequence=sequence,
        kind=SessionKind.therapy,
        booked_by=command.booked_by,
        format=command.session_format,
        match_id=series.match_id if series is not None else first.match_id if first else None,
        override_reason=command.override_reason,
    )
    care = care.with_sessions(session)
    if series is not None:
        care = replace(care, series=replace(series, next_sequence=sequence + 1))
    return care, session


def _proposal_booked(care: Care, consent: BookingConsent, session: Session, booked_by: Booker) -> Care:
    """A proposed therapist's introduction booked: the proposal's outcome (the client's choice)."""
    proposal = care.proposal(consent.match_id) if consent.match_id else None
    if consent.state is not CareState.proposed or proposal is None:
        return care
    chosen = session.therapist_id if booked_by == "client" else proposal.accepted_therapist_id
    return care.with_proposal(
        replace(
            proposal,
            outcome=ProposalOutcome.booked,
            session_id=session.session_id,
            accepted_therapist_id=chosen,
        )
    )
