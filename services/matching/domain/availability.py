"""How well two people's weekly free hours overlap when they live in different time zones.

Both sides state weekly windows in their own local time ("Tuesdays 18:00–21:00" in
`America/New_York`, "Wednesdays 00:00–03:00" in `Europe/Berlin`). To compare them, each
window is placed on one common axis: minutes since Monday 00:00 UTC of a reference week,
using the zone's UTC offset on that very day (zoneinfo), so daylight saving time is
honoured for the week being matched. A window that crosses the end of the UTC week wraps
around to its start, because the pattern repeats every week.

Offsets change only twice a year, so callers cache a therapist's intervals per reference
week (`week_key`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

MINUTES_PER_WEEK = 7 * 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Interval = tuple[int, int]
"""[start, end) in minutes since Monday 00:00 UTC of the reference week."""

Window = tuple[str, str, str]
"""(weekday code, "HH:MM" start, "HH:MM" end) in the owner's local time; end may be "24:00"."""

ENOUGH_OVERLAP_MINUTES = 180
"""Three shared hours a week leave room for a weekly 50-minute session and for moving it."""


def week_key(at: datetime) -> date:
    """The Monday (UTC) of the week containing `at`: the reference week's name."""
    day = at.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def utc_intervals(windows: Iterable[Window], timezone: str, week: date) -> tuple[Interval, ...]:
    """`windows` in `timezone`, on the common axis of `week` (a Monday), merged and sorted."""
    zone = _zone(timezone)
    anchor = datetime.combine(week, time(0), tzinfo=UTC)
    pieces: list[Interval] = []
    for day, start, end in windows:
        local_day = week + timedelta(days=WEEKDAYS.index(day))
        starts = _local(local_day, start, zone)
        ends = _local(local_day, end, zone)
        length = int((ends - starts).total_seconds() // 60)
        if length <= 0:
            continue
        offset = int((starts - anchor).total_seconds() // 60) % MINUTES_PER_WEEK
        pieces.extend(_wrapped(offset, min(length, MINUTES_PER_WEEK)))
    return _merged(pieces)


@lru_cache(maxsize=262_144)
def cached_utc_intervals(windows: tuple[Window, ...], timezone: str, week: date) -> tuple[Interval, ...]:
    """`utc_intervals`, remembered: the same hours in the same zone and week are placed once,
    however many times a therapist's record is rebuilt (every hold rebuilds it)."""
    return utc_intervals(windows, timezone, week)


def overlap_minutes(first: tuple[Interval, ...], second: tuple[Interval, ...]) -> int:
    """Minutes both sorted, disjoint interval lists cover (a linear merge)."""
    total = i = j = 0
    while i < len(first) and j < len(second):
        start = max(first[i][0], second[j][0])
        end = min(first[i][1], second[j][1])
        if end > start:
            total += end - start
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return total


def total_minutes(intervals: tuple[Interval, ...]) -> int:
    return sum(end - start for start, end in intervals)


def overlap_fit(
    client: tuple[Interval, ...], therapist: tuple[Interval, ...], *, client_minutes: int | None = None
) -> float:
    """0..1: the shared minutes against what the client could possibly share.

    Full marks once the overlap reaches `ENOUGH_OVERLAP_MINUTES`, or all of the client's
    time when they offer less than that: a client with one free hour that the therapist
    also has free is as well served as possible.
    """
    wanted = min(total_minutes(client) if client_minutes is None else client_minutes, ENOUGH_OVERLAP_MINUTES)
    if wanted <= 0:
        return 0.0
    return min(1.0, overlap_minutes(client, therapist) / wanted)


def _local(day: date, clock: str, zone: ZoneInfo) -> datetime:
    if clock == "24:00":
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    hours, minutes = clock.split(":")
    return datetime.combine(day, time(int(hours), int(minutes)), tzinfo=zone)


def _wrapped(offset: int, length: int) -> list[Interval]:
    end = offset + length
    if end <= MINUTES_PER_WEEK:
        return [(offset, end)]
    return [(offset, MINUTES_PER_WEEK), (0, end - MINUTES_PER_WEEK)]


def _merged(pieces: list[Interval]) -> tuple[Interval, ...]:
    merged: list[Interval] = []
    for start, end in sorted(pieces):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
