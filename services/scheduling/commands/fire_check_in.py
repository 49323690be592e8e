"""Fire a check-in (the `check-in` timer of the care record): `check-in-due`, then the next one.

Exactly once in effect per due date, across replicas and restarts: the timer is claimed
under its lease (`shared/storage/timers.py`), the care record is changed with the
timer's firing as its cause (so a re-fire after a crash changes nothing twice), and the
event's id is derived from the timer and its due time, so a re-fire publishes the very
same event. A timer the record no longer names (moved, paused, stopped) publishes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from services.scheduling.commands.book_series import timer_cause
from services.scheduling.commands.context import SOURCE, Scheduling
from services.scheduling.commands.record_care import Decision, load_care, write_care
from services.scheduling.domain.care import Care
from services.scheduling.domain.rhythm import check_in_id, fired_check_in
from shared.events.envelope import OutgoingEvent, new_event
from shared.events.models import CheckInDue
from shared.storage.timers import Timer

INSTRUMENTS: list[Any] = ["phq9", "gad7"]


async def on_check_in_timer(ctx: Scheduling, timer: Timer) -> list[OutgoingEvent]:
    client_id = str(timer.payload["client_id"])
    care = await load_care(ctx, client_id)
    if care is None or care.check_ins is None:
        return []
    therapist_id = care.series.therapist_id if care.series else care.in_care_with
    if therapist_id is None:
        return []
    cause = timer_cause(timer, "check-in-due", care)
    due = CheckInDue(
        check_in_id=check_in_id(client_id, timer.due_at),
        client_id=client_id,
        therapist_id=therapist_id,
        due_at=timer.due_at,
        instruments=INSTRUMENTS,
        series_id=care.series.series_id if care.series else None,
    )
    event = new_event(
        due,
        source=SOURCE,
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
