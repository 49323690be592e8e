"""Fire a check-in (the `check-in` timer of the care record): `check-in-due`, then the next one.

Exactly once in effect per due date, across replicas and restarts: the timer is claimed
under its lease (`shared/storage/timers.py`), the care record is changed with the
timer's firing as its cause (so a re-fire after a crash changes nothing twice), and the
event's id is derived from the timer and its due time, so a re-fire publishes the very
same event. A timer the record no longer names (moved, paused, stopped) publishes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from services.scheduling.context import SchedulingContext
from services.scheduling.domain.care import Care
from services.scheduling.domain.events import SOURCE, check_in_due
from services.scheduling.domain.rhythm import fired_check_in
from services.scheduling.store.clients import Decision, load_care, write_care
from shared.events.envelope import OutgoingEvent
from shared.storage.timers import Timer


@dataclass(frozen=True, slots=True)
class FireCheckIn:
    """The client's check-in falls due, as its `check-in` timer says."""

    client_id: str
    timer: Timer


async def fire_check_in(command: FireCheckIn, ctx: SchedulingContext) -> list[OutgoingEvent]:
    """`check-in-due` (to go out with the timer) and the next check-in; nothing when superseded."""
    client_id, timer = command.client_id, command.timer
    care = await load_care(ctx, client_id)
    if care is None or care.check_ins is None:
        return []
    therapist_id = care.series.therapist_id if care.series else care.in_care_with
    if therapist_id is None:
        return []
    cause = timer.as_cause(
        "check-in-due", service=SOURCE, subject=care.client_id, correlation_id=care.correlation_id
    )
    event = check_in_due(
        care,
        therapist_id,
        timer.due_at,
        event_id=timer.event_id("check-in-due"),
        correlation_id=cause.correlation_id,
        now=ctx.now(),
    )

    def decide(current: Care) -> Decision | None:
        if current.check_ins is None:
            return None
        fired = fired_check_in(current.check_ins, client_id, timer.id, timer.due_at)
        return None if fired is None else Decision(replace(current, check_ins=fired))

    stored = await write_care(ctx, client_id, decide, cause=cause, firing=timer.id)
    if stored.check_ins is None or timer.id not in stored.check_ins.fired:
        return []  # superseded: the record moved on before this timer fired
    return [event]
