"""Keep a client's series booked over a rolling horizon (the `series` timer of the care record).

The series exists once the plan started it (`domain/care_changes.start_routine`); its timer fires
at once, then every `series_extend_every`: each pass books the occurrences up to `series_horizon` ahead that
are neither booked nor reported yet, at the anchor's wall-clock time or, on a collision,
at the nearest free slot (`domain/series.py`); an occurrence with no free slot nearby is
reported in the series' `unplaced` list. Occurrence session ids are derived from the
series and target, so a pass repeated after a crash claims and books the same sessions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from services.scheduling.commands.claim_slot import ClaimSlot, claim_first
from services.scheduling.context import SchedulingContext
from services.scheduling.domain.care import MAX_UNPLACED, Care, SeriesStatus, SessionKind, Unplaced
from services.scheduling.domain.care_changes import session_from_claim
from services.scheduling.domain.events import SOURCE, session_booked
from services.scheduling.domain.ids import derived_id
from services.scheduling.domain.rhythm import series_due
from services.scheduling.domain.series import candidate_slots, targets, unplaced_reason
from services.scheduling.domain.slots import Booked, Calendar, ClaimedSlot
from services.scheduling.store.clients import Decision, load_care, write_care
from services.scheduling.store.therapist_sessions import booked_of
from services.scheduling.store.therapists import availability_of
from shared.events.envelope import Envelope
from shared.storage.timers import Timer


@dataclass(frozen=True, slots=True)
class BookSeries:
    """Top up the client's series, as its `series` timer asks (a timer the record no longer
    names does nothing)."""

    client_id: str
    timer: Timer


@dataclass(frozen=True, slots=True)
class _Placed:
    session_id: str
    target: datetime
    claimed: ClaimedSlot

    def as_booked(self) -> Booked:
        return Booked(
            self.session_id, self.claimed.slot.starts_at, self.claimed.busy_from, self.claimed.busy_to
        )


async def book_series(command: BookSeries, ctx: SchedulingContext) -> None:
    """Start or top up the series whose current timer this is; its sessions' events go out with
    the client's record."""
    timer = command.timer
    care = await load_care(ctx, command.client_id)
    if care is None or care.series is None or care.series.timer_id != timer.id:
        return
    if care.series.status is SeriesStatus.active:
        cause = timer.as_cause(
            "series", service=SOURCE, subject=care.client_id, correlation_id=care.correlation_id
        )
        await _extend(ctx, care, timer, cause)


async def _extend(ctx: SchedulingContext, care: Care, timer: Timer, cause: Envelope) -> Care:
    assert care.series is not None
    series = care.series
    now = ctx.now()
    handled = {s.target for s in care.sessions if s.series_id == series.series_id and s.target is not None}
    handled |= {u.target for u in series.unplaced}
    zone = ZoneInfo(series.therapist_timezone)
    horizon = now + ctx.policy.series_horizon
    wanted = [
        t for t in targets(series.anchor, zone, series.cadence, after=now, until=horizon) if t not in handled
    ]
    availability = await availability_of(ctx.stores.therapists, series.therapist_id)
    booked = await booked_of(ctx.stores.therapist_sessions, series.therapist_id)
    placed: list[_Placed] = []
    unplaced: list[Unplaced] = []
    for target in wanted:
        if availability is None:
            unplaced.append(Unplaced(target, "no_availability"))
            continue
        calendar = Calendar(availability, [*booked, *(p.as_booked() for p in placed)], now=now)
        session_id = derived_id("ses", series.series_id, target.isoformat())
        claimed = await _claim_near(ctx, calendar, care, session_id, target)
        if claimed is None:
            unplaced.append(Unplaced(target, unplaced_reason(calendar, target, care.client_windows)))
        else:
            placed.append(_Placed(session_id, target, claimed))

    def decide(current: Care) -> Decision:
        if current.series is None or current.series.timer_id != timer.id:
            return Decision(current)  # superseded meanwhile: what was claimed is released
        now = ctx.now()
        running = replace(current.series, status=SeriesStatus.active, anchor=series.anchor)
        sessions = []
        for one in placed:
            sessions.append(
                session_from_claim(
                    current,
                    one.claimed,
                    now=now,
                    video_base_url=ctx.policy.video_base_url,
                    session_id=one.session_id,
                    series_id=running.series_id,
                    sequence=running.next_sequence,
                    kind=SessionKind.therapy,
                    booked_by="system",
                    match_id=running.match_id,
                    target=one.target,
                )
            )
            running = replace(running, next_sequence=running.next_sequence + 1)
        running = replace(running, unplaced=(*running.unplaced, *unplaced)[-MAX_UNPLACED:])
        running = series_due(running, current.client_id, now + ctx.policy.series_extend_every)
        updated = replace(current.with_sessions(*sessions), series=running)
        return Decision(updated, [session_booked(s, updated, cause=cause, now=now) for s in sessions])

    return await write_care(
        ctx,
        care.client_id,
        decide,
        cause=cause,
        refs={p.session_id: series.therapist_id for p in placed},
        claims={p.session_id: p.claimed.claims for p in placed},
        firing=timer.id,
    )


async def _claim_near(
    ctx: SchedulingContext, calendar: Calendar, care: Care, session_id: str, target: datetime
) -> ClaimedSlot | None:
    assert care.series is not None
    slots = candidate_slots(
        calendar, target, client=care.client_windows, max_shift=ctx.policy.series_max_shift
    )
    therapist_id, availability = care.series.therapist_id, calendar.availability
    tries = (ClaimSlot(session_id, care.client_id, therapist_id, availability, slot) for slot in slots)
    return await claim_first(tries, ctx)
