"""A therapist's availability: weekly rules in their own time zone, dated exceptions, policy.

Times of day are minutes after local midnight (`"09:00"` is 540, `"24:00"` is 1440), so a
rule never depends on a date's UTC offset; `local_time.py` turns them into instants.
Durations, buffers and window edges fall on the 5-minute claim grid (`claims.py`), so the
slots offered here and the cells a booking claims always agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.scheduling.domain.claims import CELL_MINUTES

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_CODES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # the events' `WeeklyWindow.day`
_CLOCK = re.compile(r"^(?:([01]\d|2[0-3]):([0-5]\d)|24:00)$")


class AvailabilityError(ValueError):
    """A rule that cannot hold; `field` names the offending input, e.g. `weekly[2].end`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_clock(value: str, field: str) -> int:
    """`"HH:MM"` (00:00–24:00) as minutes after midnight."""
    match = _CLOCK.match(value)
    if match is None:
        raise AvailabilityError(field, f"expected a 24-hour time HH:MM (00:00–24:00), got {value!r}")
    return 1440 if value == "24:00" else int(match[1]) * 60 + int(match[2])


def format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_day(value: str, field: str) -> int:
    """A weekday name (`monday`) or code (`mon`) as 0 (Monday) to 6 (Sunday)."""
    name = value.strip().lower()
    if name in DAYS:
        return DAYS.index(name)
    if name in DAY_CODES:
        return DAY_CODES.index(name)
    raise AvailabilityError(field, f"expected a weekday such as 'monday', got {value!r}")


def check_zone(name: str, field: str = "timezone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise AvailabilityError(field, f"unknown IANA time zone {name!r}") from exc


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """Local wall-clock minutes [start, end) of one day."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class WeeklyRule:
    day: int  # 0 = Monday
    window: Window


@dataclass(frozen=True, slots=True)
class DateException:
    """A date with its own windows; no windows means the day is off."""

    day: date
    windows: tuple[Window, ...] = ()


@dataclass(frozen=True, slots=True)
class Availability:
    timezone: str
    weekly: tuple[WeeklyRule, ...]
    exceptions: tuple[DateException, ...] = ()
    session_minutes: int = 50
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    min_notice_hours: int = 24
    horizon_days: int = 60
    daily_cap: int | None = None
    slot_step_minutes: int = 30
    accepting_new_clients: bool = True
    _by_date: dict[date, tuple[Window, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_date.update({exception.day: exception.windows for exception in self.exceptions})

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def windows_on(self, day: date) -> tuple[Window, ...]:
        """The windows of a local date: its exception's if it has one, else its weekday's rules."""
        if day in self._by_date:
            return self._by_date[day]
        return tuple(sorted(rule.window for rule in self.weekly if rule.day == day.weekday()))


def availability_from(spec: Mapping[str, Any]) -> Availability:
    """Build and check availability from its plain form (the API body or the stored document).

    Raises `AvailabilityError` naming the first offending field: an unknown zone, a rule
    whose end is not after its start, rules that overlap on one day, a date given twice,
    or a duration off the 5-minute grid.
    """
    check_zone(str(spec.get("timezone", "")))
    weekly = tuple(_rules(spec.get("weekly") or ()))
    _no_overlap(((rule.day, rule.window, f"weekly[{i}]") for i, rule in enumerate(weekly)), "weekly")
    exceptions = tuple(_exceptions(spec.get("exceptions") or ()))
    availability = Availability(
        timezone=str(spec["timezone"]),
        weekly=weekly,
        exceptions=exceptions,
        session_minutes=int(spec.get("session_minutes", 50)),
        buffer_before_minutes=int(spec.get("buffer_before_minutes", 0)),
        buffer_after_minutes=int(spec.get("buffer_after_minutes", 0)),
        min_notice_hours=int(spec.get("min_notice_hours", 24)),
        horizon_days=int(spec.get("horizon_days", 60)),
        daily_cap=None if spec.get("daily_cap") is None else int(spec["daily_cap"]),
        slot_step_minutes=int(spec.get("slot_step_minutes", 30)),
        accepting_new_clients=bool(spec.get("accepting_new_clients", True)),
    )
    for name in ("session_minutes", "buffer_before_minutes", "buffer_after_minutes", "slot_step_minutes"):
        if getattr(availability, name) % CELL_MINUTES:
            raise AvailabilityError(name, f"must be a multiple of {CELL_MINUTES} minutes")
    return availability


def _window(start: str, end: str, field: str) -> Window:
    window = Window(parse_clock(start, f"{field}.start"), parse_clock(end, f"{field}.end"))
    if window.end <= window.start:
        raise AvailabilityError(f"{field}.end", f"end {end} is not after start {start}")
    if window.start % CELL_MINUTES or window.end % CELL_MINUTES:
        raise AvailabilityError(field, f"window edges must fall on {CELL_MINUTES}-minute marks")
    return window


def _rules(rules: Iterable[Mapping[str, Any]]) -> Iterable[WeeklyRule]:
    for i, rule in enumerate(rules):
        field = f"weekly[{i}]"
        yield WeeklyRule(
            parse_day(str(rule.get("day", "")), f"{field}.day"),
            _window(str(rule.get("start", "")), str(rule.get("end", "")), field),
        )


def _exceptions(exceptions: Iterable[Mapping[str, Any]]) -> Iterable[DateException]:
    seen: set[date] = set()
    for i, exception in enumerate(exceptions):
        field = f"exceptions[{i}]"
        raw = exception.get("date")
        try:
            day = raw if isinstance(raw, date) else date.fromisoformat(str(raw))
        except ValueError as exc:
            raise AvailabilityError(f"{field}.date", f"expected a date YYYY-MM-DD, got {raw!r}") from exc
        if day in seen:
            raise AvailabilityError(f"{field}.date", f"{day.isoformat()} is given twice")
        seen.add(day)
        windows: Sequence[Mapping[str, Any]] = exception.get("windows") or ()
        if exception.get("off") and windows:
            raise AvailabilityError(field, "a day off has no windows")
        parsed = tuple(
            _window(str(w.get("start", "")), str(w.get("end", "")), f"{field}.windows[{j}]")
            for j, w in enumerate(windows)
        )
        _no_overlap(((0, w, f"{field}.windows[{j}]") for j, w in enumerate(parsed)), field)
        yield DateException(day, tuple(sorted(parsed)))


def _no_overlap(windows: Iterable[tuple[int, Window, str]], field: str) -> None:
    ordered = sorted(windows, key=lambda item: (item[0], item[1]))
    for (day_a, a, name_a), (day_b, b, name_b) in pairwise(ordered):
        if day_a == day_b and b.start < a.end:
            raise AvailabilityError(
                name_b,
                f"{format_clock(b.start)}–{format_clock(b.end)} overlaps {name_a} "
                f"({format_clock(a.start)}–{format_clock(a.end)})"
                + (f" on {DAYS[day_a]}" if field == "weekly" else ""),
            )
