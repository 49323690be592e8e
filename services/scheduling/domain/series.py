"""A recurring series: occurrences on the care cadence, at the anchor's wall-clock time.

Occurrences keep the wall-clock time of the anchor session in the therapist's zone (a
14:00 session stays at 14:00 across a DST change), every 7, 14 or 28 days. An occurrence
that collides with time off, an exception, another session or the daily cap moves to the
nearest free slot within a few days (that also fits the client's windows); when there is
none it is reported, never silently dropped.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.scheduling.domain.local_time import local_day, minutes_of_day, wall_to_utc
from services.scheduling.domain.slots import Calendar, ClientWindows, Refusal, Slot
from shared.events.common import SessionCadence

CADENCE_DAYS = {
    SessionCadence.weekly: 7,
    SessionCadence.biweekly: 14,
    SessionCadence.every_4_weeks: 28,
}


def occurrence(anchor: datetime, zone: ZoneInfo, cadence: SessionCadence, index: int) -> datetime:
    """The `index`-th occurrence after `anchor` (0 is the anchor itself), same wall time."""
    day = local_day(anchor, zone) + timedelta(days=CADENCE_DAYS[cadence] * index)
    return wall_to_utc(day, minutes_of_day(anchor, zone), zone)


def targets(
    anchor: datetime, zone: ZoneInfo, cadence: SessionCadence, *, after: datetime, until: datetime
) -> list[datetime]:
    """Occurrences in (after, until], earliest first."""
    found = []
    index = 1
    while (at := occurrence(anchor, zone, cadence, index)) <= until:
        if at > after:
            found.append(at)
        index += 1
    return found


def last_occurrence_by(anchor: datetime, zone: ZoneInfo, cadence: SessionCadence, now: datetime) -> datetime:
    """The latest occurrence at or before `now` (the anchor if none has come yet)."""
    latest, index = anchor, 1
    while (at := occurrence(anchor, zone, cadence, index)) <= now:
        latest, index = at, index + 1
    return latest


def candidate_slots(
    calendar: Calendar, target: datetime, *, client: ClientWindows | None, max_shift: timedelta
) -> list[Slot]:
    """Where an occurrence may go, best first: its own slot if free, then the nearest free ones.

    Nearest means closest in time within `max_shift` either way (earlier on a tie), and
    inside the client's windows when they are known.
    """
    slots = calendar.free_slots(target - max_shift, target + max_shift + timedelta(microseconds=1), client)
    return sorted(slots, key=lambda s: (abs(s.starts_at - target), s.starts_at))


def unplaced_reason(calendar: Calendar, target: datetime, client: ClientWindows | None) -> str:
    """A code for the report when an occurrence found no slot: what was wrong with its own."""
    refusal = calendar.refusal(target, client) or Refusal.taken
    return f"{refusal.value}_no_free_slot_nearby"
