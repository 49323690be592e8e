"""Follow a new treatment plan version: the routine starts, then cadence, interval, pause, completion.

Plan before routine: the regular series and the check-ins start only from an active plan
of the therapist the client is in care with (their introduction held): the series at the
plan's cadence, anchored on the introduction's wall-clock time, the first check-in one
plan interval after this version (`domain/care_changes.start_routine`). A plan that arrives
before the introduction was held is kept and acted on when it is (`record_attendance`).
Once the routine runs, later versions steer it:

- completed: care ends (folded into the care relationships: *ended*), future sessions are
  cancelled (`plan_completed`), the series and check-ins stop (`domain/consent.py`);
- paused: the series stops being topped up (booked sessions stay) and check-ins pause;
- active: a paused series and check-ins resume; a new cadence re-plans the series from
  its last occurrence so far (future sessions off the new rhythm are cancelled, the rest
  kept, the gaps booked by the series timer at once); a new check-in interval moves the
  pending check-in to one interval after the last (or now, if that has passed).

Older versions than the one applied are ignored (events of one client stay in order on
their partition, but a replay may bring an old one again).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from services.scheduling.context import SchedulingContext
from services.scheduling.domain.care import Care, Plan, Series, SeriesStatus
from services.scheduling.domain.care_changes import cancel_upcoming, start_routine
from services.scheduling.domain.rhythm import (
    paused_check_ins,
    resumed_check_ins,
    series_due,
    series_idle,
    with_interval,
)
from services.scheduling.domain.series import last_occurrence_by, targets
from services.scheduling.store.clients import Decision, write_care
from shared.clock import stored_instant
from shared.events.common import PlanStatus
from shared.events.envelope import Envelope, OutgoingEvent
from shared.events.models import TreatmentPlanUpdated


@dataclass(frozen=True, slots=True)
class FollowPlan:
    """Intake wrote plan version `update` (what `cause` carries)."""

    update: TreatmentPlanUpdated
    cause: Envelope


async def follow_plan(command: FollowPlan, ctx: SchedulingContext) -> Care:
    event, cause = command.update, command.cause
    plan = Plan(
        event.version,
        event.status,
        event.session_cadence,
        event.check_in_interval_days,
        therapist_id=event.therapist_id,
        updated_at=stored_instant(event.updated_at),
    )

    def decide(care: Care) -> Decision | None:
        if care.plan is not None and care.plan.version >= plan.version:
            return None
        care = replace(care, plan=plan)
        therapist_id = care.in_care_with
        if plan.status is PlanStatus.completed or therapist_id is None or therapist_id != plan.therapist_id:
            # Completed: the relationship's end (folded in already) ended care. Not in care
            # with its therapist yet: kept for when their introduction is held.
            return Decision(care)
        if not care.routine_with(therapist_id):
            return Decision(start_routine(care, ctx.now()))
        if plan.status is PlanStatus.paused:
            return Decision(_paused(care))
        return _active(care, plan, cause, ctx.now())

    return await write_care(ctx, event.client_id, decide, cause=cause, event=event)


def _paused(care: Care) -> Care:
    series = care.series
    if series is not None and series.status in (SeriesStatus.pending, SeriesStatus.active):
        series = series_idle(series, SeriesStatus.paused)
    check_ins = care.check_ins
    if check_ins is not None and check_ins.active:
        check_ins = paused_check_ins(check_ins)
    return replace(care, series=series, check_ins=check_ins)


def _active(care: Care, plan: Plan, cause: Envelope, now: datetime) -> Decision:
    events: list[OutgoingEvent] = []
    series = care.series
    if series is not None and series.status is SeriesStatus.paused:
        series = series_due(replace(series, status=SeriesStatus.active), care.client_id, now)
        care = replace(care, series=series)
    if series is not None and series.in_care and series.cadence != plan.cadence:
        care, events = _replanned(care, series, plan, cause, now)
    check_ins = care.check_ins
    if check_ins is not None:
        check_ins = resumed_check_ins(check_ins, care.client_id, now)
        if check_ins.interval_days != plan.check_in_interval_days:
            check_ins = with_interval(check_ins, care.client_id, plan.check_in_interval_days, now)
        care = replace(care, check_ins=check_ins)
    return Decision(care, events)


def _replanned(
    care: Care, series: Series, plan: Plan, cause: Envelope, now: datetime
) -> tuple[Care, list[OutgoingEvent]]:
    """The series on the new cadence from its last occurrence so far; what falls off is cancelled."""
    if series.status is SeriesStatus.pending:  # nothing booked on the cadence yet
        return replace(care, series=replace(series, cadence=plan.cadence)), []
    zone = ZoneInfo(series.therapist_timezone)
    anchor = last_occurrence_by(series.anchor, zone, series.cadence, now)
    # Occurrences only: sessions booked one by one (no target) are the client's own choice.
    upcoming = [
        s
        for s in care.upcoming(now, series.therapist_id)
        if s.series_id == series.series_id and s.target is not None
    ]
    last = max((s.target for s in upcoming if s.target is not None), default=now)
    keep = set(targets(anchor, zone, plan.cadence, after=now, until=last))
    off_rhythm = [s for s in upcoming if s.target not in keep]
    care, events = cancel_upcoming(care, off_rhythm, reason="cadence_changed", cause=cause, now=now)
    replanned = replace(series, cadence=plan.cadence, anchor=anchor, unplaced=())
    return replace(care, series=series_due(replanned, care.client_id, now)), events
