"""Wall-clock times in a time zone, turned into UTC instants, correct across DST changes.

A window "09:00–17:00 on Monday in America/New_York" means: while the therapist's wall
clock shows a time in [09:00, 17:00). Two days a year that needs care:

- clocks go forward (a gap): 02:30 does not exist; a window edge inside the gap is the
  instant the clock jumps past it (the transition);
- clocks go back (a repeated hour): 01:30 happens twice; a window start takes its first
  occurrence and a window end its last, so the window covers every moment the clock
  reads inside it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # where instants counted in microseconds start (`micros`)
MICROSECOND = timedelta(microseconds=1)
MICROS_PER_MINUTE = 60_000_000

Edge = Literal["start", "end"]


def local_datetime(day: date, minutes: int) -> datetime:
    """The naive wall time `minutes` after midnight of `day` (1440 is the next midnight)."""
    return datetime.combine(day, time()) + timedelta(minutes=minutes)


def wall_to_utc(day: date, minutes: int, zone: ZoneInfo, *, edge: Edge = "start") -> datetime:
    """The UTC instant at which the wall clock of `zone` reads `minutes` past midnight of `day`."""
    wall = local_datetime(day, minutes)
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return first
    if _reads(first, wall, zone) and _reads(second, wall, zone):  # a repeated hour
        return min(first, second) if edge == "start" else max(first, second)
    return _transition_between(min(first, second), max(first, second), zone)  # a gap


def window_to_utc(day: date, start: int, end: int, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The instants a wall-clock window of `day` covers; None if DST leaves nothing of it."""
    begins = wall_to_utc(day, start, zone, edge="start")
    ends = wall_to_utc(day, end, zone, edge="end")
    return (begins, ends) if begins < ends else None


@lru_cache(maxsize=32_768)
def window_micros(ordinal: int, start: int, end: int, zone: ZoneInfo) -> tuple[int, int] | None:
    """`window_to_utc` of the date with proleptic ordinal `ordinal`, in microseconds since `EPOCH`.

    Slot maths asks for the same few windows of the same dates on every booking (a
    therapist's rules over the horizon, a client's windows), and each conversion costs four
    zone lookups: the answer depends only on the arguments, so it is remembered (bounded, a
    few MB at most), keyed by plain integers that hash fast. Integers let the per-slot loops
    in `slots.py` add and compare without building a datetime or timedelta for each slot.
    """
    span = window_to_utc(date.fromordinal(ordinal), start, end, zone)
    return None if span is None else (micros(span[0]), micros(span[1]))


def micros(instant: datetime) -> int:
    """An aware instant as whole microseconds since `EPOCH` (exact: no float on the way)."""
    return (instant - EPOCH) // MICROSECOND


def from_micros(count: int) -> datetime:
    """The UTC instant `count` microseconds after `EPOCH` (the inverse of `micros`)."""
    return EPOCH + timedelta(0, 0, count)


def local_day(instant: datetime, zone: ZoneInfo) -> date:
    """The calendar date on the wall in `zone` at `instant`."""
    return instant.astimezone(zone).date()


def minutes_of_day(instant: datetime, zone: ZoneInfo) -> int:
    local = instant.astimezone(zone)
    return local.hour * 60 + local.minute


def _reads(instant: datetime, wall: datetime, zone: ZoneInfo) -> bool:
    return instant.astimezone(zone).replace(tzinfo=None) == wall


def _transition_between(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The first minute in (before, after] whose UTC offset differs from `before`'s."""
    offset = before.astimezone(zone).utcoffset()
    low, high = 0, int((after - before).total_seconds() // 60)
    while low < high:  # bisect minutes: transitions fall on whole minutes
        middle = (low + high) // 2
        if (before + timedelta(minutes=middle)).astimezone(zone).utcoffset() == offset:
            low = middle + 1
        else:
            high = middle
    return before + timedelta(minutes=low)
