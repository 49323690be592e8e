"""Changes of a care record shared by several commands: a new session, care started, care ended."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from services.scheduling.commands.claim_slot import ClaimedSlot
from services.scheduling.commands.context import Scheduling
from services.scheduling.commands.events import session_cancelled
from services.scheduling.commands.ids import derived_id, join_url
from services.scheduling.commands.record_care import Decision
from services.scheduling.domain.cancellation import CancelledBy, SessionStatus
from services.scheduling.domain.care import Care, Series, SeriesStatus, Session, SessionKind
from services.scheduling.domain.rhythm import (
    series_due,
    series_idle,
    start_check_ins,
    stopped_check_ins,
)
from shared.events.envelope import Envelope, OutgoingEvent


def session_from_claim(
    ctx: Scheduling,
    care: Care,
    claimed: ClaimedSlot,
    *,
    session_id: str,
    series_id: str,
    sequence: int,
    kind: SessionKind,
    format: str | None = None,
    match_id: str | None = None,
    target: datetime | None = None,
) -> Session:
    now = ctx.now()
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
        join_url=join_url(ctx.policy.video_base_url),
        claims=claimed.claims,
        match_id=match_id,
        target=target,
        booked_at=now,
        updated_at=now,
    )


def introduction(
    ctx: Scheduling,
    care: Care,
    claimed: ClaimedSlot,
    *,
    session_id: str,
    format: str | None,
    match_id: str | None,
) -> Session:
    """The first session with a therapist: sequence 1 of a new series."""
    return session_from_claim(
        ctx,
        care,
        claimed,
        session_id=session_id,
        series_id=derived_id("ser", session_id),
        sequence=1,
        kind=SessionKind.introduction,
        format=format,
        match_id=match_id,
    )


def start_care(ctx: Scheduling, care: Care, first: Session, *, series_running: bool = False) -> Care:
    """Care begins (or moves) with `first`: a series anchored on it and check-ins from it.

    The series waits for the introduction to take place, then follows the cadence; a
    switch of therapist while a series was running keeps it running at once. Check-ins
    already running go on (they follow the client, not the therapist).
    """
    now = ctx.now()
    series = Series(
        series_id=first.series_id,
        therapist_id=first.therapist_id,
        therapist_timezone=first.therapist_timezone,
        cadence=care.cadence,
        anchor=first.starts_at,
        status=SeriesStatus.active if series_running else SeriesStatus.pending,
        match_id=first.match_id,
    )
    series = series_due(series, care.client_id, now if series_running else first.ends_at)
    check_ins = care.check_ins
    if check_ins is None or not check_ins.active:
        interval = care.plan.check_in_interval_days if care.plan else ctx.policy.check_in_interval_days
        check_ins = start_check_ins(care.client_id, first.starts_at, interval)
    return replace(care.with_sessions(first), series=series, check_ins=check_ins)


def cancelled(
    session: Session, *, status: SessionStatus, by: CancelledBy, reason: str | None, now: datetime
) -> Session:
    """The session cancelled: its claims are let go (settling releases them)."""
    return replace(
        session,
        status=status,
        cancelled_by=by.value,
        cancel_reason=reason,
        revision=session.revision + 1,
        claims=(),
        updated_at=now,
    )


def cancel_upcoming(
    ctx: Scheduling,
    care: Care,
    sessions: list[Session],
    *,
    reason: str,
    cause: Envelope | None,
) -> tuple[Care, list[OutgoingEvent]]:
    """Cancel `sessions` on the system's behalf (care changed), one event each."""
    now = ctx.now()
    done = [
        cancelled(s, status=SessionStatus.cancelled, by=CancelledBy.system, reason=reason, now=now)
        for s in sessions
    ]
    care = care.with_sessions(*done)
    return care, [session_cancelled(s, care, cause=cause, now=now) for s in done]


def end_care(ctx: Scheduling, care: Care, *, reason: str, cause: Envelope | None) -> Decision:
    """Care ends: future sessions cancelled, the series stopped, check-ins stopped."""
    therapist_id = care.therapist_id
    upcoming = care.upcoming(ctx.now(), therapist_id) if therapist_id else []
    care, events = cancel_upcoming(ctx, care, upcoming, reason=reason, cause=cause)
    series = series_idle(care.series, SeriesStatus.stopped) if care.series else None
    check_ins = stopped_check_ins(care.check_ins) if care.check_ins else None
    return Decision(replace(care, series=series, check_ins=check_ins), events)
