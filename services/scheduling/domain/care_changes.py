"""Changes of a care record several commands share: a new session, the routine started, cancellations.

Pure: the time (`now`) and the policy's values come in as arguments.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from services.scheduling.domain.care import Care, Series, SeriesStatus, Session, SessionKind
from services.scheduling.domain.events import Booker, session_cancelled
from services.scheduling.domain.ids import derived_id, join_url
from services.scheduling.domain.rhythm import series_due, start_check_ins
from services.scheduling.domain.slots import ClaimedSlot
from shared.events.envelope import Envelope, OutgoingEvent


def session_from_claim(
    care: Care,
    claimed: ClaimedSlot,
    *,
    now: datetime,
    video_base_url: str,
    session_id: str,
    series_id: str,
    sequence: int,
    kind: SessionKind,
    booked_by: Booker,
    format: str | None = None,
    match_id: str | None = None,
    target: datetime | None = None,
    override_reason: str | None = None,
) -> Session:
    """The session `claimed` holds the time of, with a video room of its own.

    Every session gets a room, whatever its format: `session-booked` v1 requires `join_url`.
    Only a video session is attended through it; what shows it (`domain/ical.join_link`,
    notifications' messages) leaves it out for phone, chat and in-person sessions.
    """
    return Session(
        session_id=session_id,
        client_id=care.client_id,
        therapist_id=claimed.therapist_id,
        series_id=series_id,
        sequence=sequence,
        kind=kind,
        starts_at=claimed.slot.starts_at,
        ends_at=claimed.slot.ends_at,
        busy_from=claimed.busy_from,
        busy_to=claimed.busy_to,
        timezone=care.timezone or claimed.availability.timezone,
        therapist_timezone=claimed.availability.timezone,
        format=format or care.session_format,
        join_url=join_url(video_base_url),
        claims=claimed.claims,
        match_id=match_id,
        target=target,
        booked_at=now,
        updated_at=now,
        booked_by=booked_by,
        override_reason=override_reason,
    )


def introduction(
    care: Care,
    claimed: ClaimedSlot,
    *,
    now: datetime,
    video_base_url: str,
    session_id: str,
    format: str | None,
    match_id: str | None,
    booked_by: Booker,
    override_reason: str | None = None,
) -> Session:
    """The first session with a therapist: sequence 1 of a new series (it starts no routine)."""
    return session_from_claim(
        care,
        claimed,
        now=now,
        video_base_url=video_base_url,
        session_id=session_id,
        series_id=derived_id("ser", session_id),
        sequence=1,
        kind=SessionKind.introduction,
        format=format,
        match_id=match_id,
        booked_by=booked_by,
        override_reason=override_reason,
    )


def start_routine(care: Care, now: datetime) -> Care:
    """The regular series and the check-ins begin, when the plan and the introduction allow.

    Plan before routine: only an active plan of the therapist whose introduction was held
    starts them (the caller knows the client is in care with, or just chose, that therapist).
    The series runs at the plan's cadence, anchored on the introduction's wall-clock time
    (its sessions continue the introduction's series); the first check-in falls due one plan
    interval after the plan version that started them, or after the introduction was held
    when the plan came first. A routine already running with that therapist is left alone.
    """
    plan = care.plan
    if plan is None or not plan.active or plan.therapist_id is None or care.routine_with(plan.therapist_id):
        return care
    first = care.held_introduction(plan.therapist_id)
    if first is None:
        return care
    series = Series(
        series_id=first.series_id,
        therapist_id=first.therapist_id,
        therapist_timezone=first.therapist_timezone,
        cadence=plan.cadence,
        anchor=first.starts_at,
        status=SeriesStatus.active,
        match_id=first.match_id,
        next_sequence=care.next_sequence(first.series_id),
    )
    since = max((t for t in (plan.updated_at, first.attendance_recorded_at) if t is not None), default=now)
    check_ins = start_check_ins(care.client_id, since, plan.check_in_interval_days)
    return replace(care, series=series_due(series, care.client_id, now), check_ins=check_ins)


def cancel_upcoming(
    care: Care, sessions: list[Session], *, reason: str, cause: Envelope | None, now: datetime
) -> tuple[Care, list[OutgoingEvent]]:
    """Cancel `sessions` on the system's behalf (care changed), one event each."""
    care, done = care.cancelled_by_system(sessions, reason=reason, now=now)
    return care, [session_cancelled(s, care, cause=cause, now=now) for s in done]
