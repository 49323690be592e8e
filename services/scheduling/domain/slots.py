"""Free slots: what a therapist offers, minus what is booked, within a client's windows.

All instants are UTC; rules are read in the therapist's zone and a client's weekly windows
in the client's zone (`local_time.py`), so a London client and a Los Angeles therapist
meet at the right moment on every date, including the weeks when only one of them has
changed clocks. A slot is bookable when it is:

- offered: it starts on the slot grid of a window of that local date (exceptions replace
  the weekly rules of their date) and the session fits before the window ends;
- neither too soon (minimum notice) nor too far (horizon), counted from `now`;
- free: its padded interval (session plus buffers) meets no booked session's padded
  interval, so buffers stack; compared on the claim grid (`claims.py`), exactly as claims are;
- under the daily cap of active sessions on that local date;
- inside one of the client's windows, when a client is given.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import accumulate
from zoneinfo import ZoneInfo

from services.scheduling.domain.availability import Availability, Window
from services.scheduling.domain.claims import ceil_cell, floor_cell, padded
from services.scheduling.domain.local_time import local_day, window_to_utc


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Booked:
    """An active session of the therapist, as far as its time is concerned."""

    session_id: str
    starts_at: datetime
    busy_from: datetime
    busy_to: datetime


@dataclass(frozen=True, slots=True)
class ClientWindows:
    """A client's weekly windows (weekday 0 = Monday) in the client's own zone."""

    timezone: str
    weekly: tuple[tuple[int, Window], ...]


@dataclass(frozen=True, slots=True)
class ClaimedSlot:
    """A slot now held for one session: its time, padded time and the claims that hold it."""

    therapist_id: str
    availability: Availability
    slot: Slot
    busy_from: datetime
    busy_to: datetime
    claims: tuple[str, ...]


class Refusal(StrEnum):
    """Why a given start cannot be booked; each is a code the API returns."""

    outside_horizon = "outside_horizon"
    too_short_notice = "too_short_notice"
    not_offered = "slot_not_offered"
    outside_client_windows = "outside_client_windows"
    taken = "slot_taken"
    daily_cap_reached = "daily_cap_reached"


def offered_slots(availability: Availability, start: datetime, end: datetime) -> list[Slot]:
    """Slots the rules offer that start in [start, end), whatever is booked."""
    zone = availability.zone
    session = timedelta(minutes=availability.session_minutes)
    step = timedelta(minutes=availability.slot_step_minutes)
    slots: set[Slot] = set()
    day = local_day(start, zone) - timedelta(days=1)
    last = local_day(end, zone) + timedelta(days=1)
    while day <= last:
        for window in availability.windows_on(day):
            span = window_to_utc(day, window.start, window.end, zone)
            if span is None:
                continue
            at = span[0]
            while at + session <= span[1]:
                if start <= at < end:
                    slots.add(Slot(at, at + session))
                at += step
        day += timedelta(days=1)
    return sorted(slots)


class Calendar:
    """A therapist's availability and booked sessions, asked about slots at one `now`."""

    def __init__(
        self,
        availability: Availability,
        booked: Iterable[Booked],
        *,
        now: datetime,
        exclude: Iterable[str] = (),
    ) -> None:
        self.availability = availability
        self.now = now
        excluded = set(exclude)
        sessions = sorted(
            (b for b in booked if b.session_id not in excluded), key=lambda b: floor_cell(b.busy_from)
        )
        self._busy_starts = [floor_cell(b.busy_from) for b in sessions]
        self._busy_ends_so_far = list(accumulate((ceil_cell(b.busy_to) for b in sessions), max))
        zone = availability.zone
        self._per_day = Counter(local_day(b.starts_at, zone) for b in sessions)

    @property
    def earliest(self) -> datetime:
        return self.now + timedelta(hours=self.availability.min_notice_hours)

    @property
    def latest(self) -> datetime:
        return self.now + timedelta(days=self.availability.horizon_days)

    def free_slots(self, start: datetime, end: datetime, client: ClientWindows | None = None) -> list[Slot]:
        """Bookable slots starting in [start, end), earliest first."""
        start, end = max(start, self.earliest), min(end, self.latest + timedelta(microseconds=1))
        if start >= end:
            return []
        fits_client = _client_fit(client, start, end + timedelta(days=1))
        return [
            slot
            for slot in offered_slots(self.availability, start, end)
            if self._free(slot) and self._under_cap(slot) and fits_client(slot)
        ]

    def refusal(self, starts_at: datetime, client: ClientWindows | None = None) -> Refusal | None:
        """None if `starts_at` can be booked now, else the first reason it cannot."""
        if starts_at > self.latest:
            return Refusal.outside_horizon
        if starts_at < self.earliest:
            return Refusal.too_short_notice
        offered = offered_slots(self.availability, starts_at, starts_at + timedelta(minutes=1))
        if not offered:
            return Refusal.not_offered
        slot = offered[0]
        if not _client_fit(client, starts_at - timedelta(days=1), starts_at + timedelta(days=1))(slot):
            return Refusal.outside_client_windows
        if not self._free(slot):
            return Refusal.taken
        if not self._under_cap(slot):
            return Refusal.daily_cap_reached
        return None

    def nearest_free_slot(
        self, target: datetime, within: timedelta, client: ClientWindows | None = None
    ) -> Slot | None:
        """The free slot closest to `target` (earlier on a tie), at most `within` away."""
        slots = self.free_slots(target - within, target + within + timedelta(microseconds=1), client)
        return min(slots, key=lambda s: (abs(s.starts_at - target), s.starts_at), default=None)

    def padded(self, slot: Slot) -> tuple[datetime, datetime]:
        a = self.availability
        return padded(slot.starts_at, slot.ends_at, a.buffer_before_minutes, a.buffer_after_minutes)

    def _free(self, slot: Slot) -> bool:
        busy_from, busy_to = self.padded(slot)
        begins, ends = floor_cell(busy_from), ceil_cell(busy_to)
        before = bisect_left(self._busy_starts, ends)  # sessions that start before this one ends
        return before == 0 or self._busy_ends_so_far[before - 1] <= begins

    def _under_cap(self, slot: Slot) -> bool:
        cap = self.availability.daily_cap
        return cap is None or self._per_day[local_day(slot.starts_at, self.availability.zone)] < cap


def _client_fit(client: ClientWindows | None, start: datetime, end: datetime) -> Callable[[Slot], bool]:
    """A test of whether a slot lies inside one of the client's windows (any slot without a client)."""
    if client is None:
        return lambda slot: True
    intervals = _client_intervals(client, start, end)
    starts = [a for a, _ in intervals]

    def fits(slot: Slot) -> bool:
        index = bisect_right(starts, slot.starts_at) - 1
        return index >= 0 and intervals[index][1] >= slot.ends_at

    return fits


def _client_intervals(
    client: ClientWindows, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The client's windows as merged UTC intervals covering [start, end)."""
    zone = ZoneInfo(client.timezone)
    spans = []
    day = local_day(start, zone) - timedelta(days=1)
    last = local_day(end, zone) + timedelta(days=1)
    while day <= last:
        for weekday, window in client.weekly:
            if weekday == day.weekday() and (span := window_to_utc(day, window.start, window.end, zone)):
                spans.append(span)
        day += timedelta(days=1)
    merged: list[tuple[datetime, datetime]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged
