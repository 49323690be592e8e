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

Every booking asks this over the whole horizon, so the per-slot work runs on integers
(microseconds since `local_time.EPOCH`, on which the claim grid is laid) rather than
datetimes: window edges come converted from a cache (`local_time.window_micros`), starts
come from one `range` per window already in order, and a slot becomes a `Slot` only once it
is known to be bookable; a caller that needs only the first few stops the search there.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import accumulate, islice
from zoneinfo import ZoneInfo

from services.scheduling.domain.availability import Availability, Window
from services.scheduling.domain.claims import CELL_MICROS, ceil_cell_micros, floor_cell_micros, padded
from services.scheduling.domain.local_time import (
    EPOCH,
    MICROS_PER_MINUTE,
    from_micros,
    local_day,
    micros,
    window_micros,
)

ONE_DAY = timedelta(days=1)
_MICROS_PER_DAY = 24 * 60 * MICROS_PER_MINUTE
_EPOCH_ORDINAL = EPOCH.date().toordinal()


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
    session = availability.session_minutes * MICROS_PER_MINUTE
    return [
        Slot(from_micros(at), from_micros(at + session))
        for starts in _offered_starts(availability, availability.zone, start, end)
        for at in starts
    ]


def _offered_starts(
    availability: Availability, zone: ZoneInfo, start: datetime, end: datetime
) -> Iterator[list[int]]:
    """The starts (microseconds since `EPOCH`) the rules offer in [start, end), earliest first, once
    each, in runs: each run is in order and every start of a run precedes the next run's.

    Local dates run from the day before `start`'s to the day after `end`'s (a window of one
    date may reach into the next in UTC), and are read one at a time, so a caller that stops
    early never converts the rest of the horizon. A window of date D starts after D's
    midnight read as UTC minus a day (a UTC offset is under 24 hours), so once the dates
    before D are read every start up to there is final and is given out. Windows that do
    not overlap in UTC, as validated rules never do, give their starts in order already:
    they are checked, not sorted; only an overlap (a hand-built availability, a repeated
    hour at midnight) pays for a sort.
    """
    session = availability.session_minutes * MICROS_PER_MINUTE
    step = availability.slot_step_minutes * MICROS_PER_MINUTE
    low, high = micros(start), micros(end)
    weekly = _weekly_windows(availability)
    exceptions = {exception.day.toordinal(): exception.windows for exception in availability.exceptions}
    pending: list[int] = []
    in_order = True
    first = local_day(start, zone).toordinal() - 1
    last = local_day(end, zone).toordinal() + 1
    for ordinal in range(first, last + 1):
        final = (ordinal - _EPOCH_ORDINAL - 1) * _MICROS_PER_DAY
        if pending and (not in_order or pending[0] <= final):
            if not in_order:
                pending, in_order = sorted(set(pending)), True
            given = bisect_right(pending, final)
            if given == len(pending):
                yield pending
                pending = []
            elif given:
                yield pending[:given]
                del pending[:given]
        windows = exceptions[ordinal] if ordinal in exceptions else weekly.get((ordinal + 6) % 7, ())
        for window in windows:
            span = window_micros(ordinal, window.start, window.end, zone)
            if span is None:
                continue
            at = span[0]
            if at < low:  # the first start of the window's grid at or after `low`
                at += -(-(low - at) // step) * step
            stop = min(span[1] - session + 1, high)  # the session fits, and it starts before `end`
            if at >= stop:
                continue
            if pending and at <= pending[-1]:
                in_order = False
            pending.extend(range(at, stop, step))
    if pending:
        yield pending if in_order else sorted(set(pending))


def _weekly_windows(availability: Availability) -> dict[int, tuple[Window, ...]]:
    """The weekly rules' windows by weekday (0 = Monday), each sorted, as `windows_on` gives them
    (once per call instead of once per date)."""
    by_day: dict[int, list[Window]] = {}
    for rule in availability.weekly:
        by_day.setdefault(rule.day, []).append(rule.window)
    return {weekday: tuple(sorted(windows)) for weekday, windows in by_day.items()}


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
        self._zone = availability.zone
        excluded = set(exclude)
        sessions = [b for b in booked if b.session_id not in excluded]
        # Padded busy time on the claim grid, in microseconds, ordered by start; with the
        # running maximum of the ends, one bisection says whether anything overlaps a slot.
        busy = sorted(
            ((floor_cell_micros(micros(b.busy_from)), ceil_cell_micros(micros(b.busy_to))) for b in sessions),
            key=lambda span: span[0],
        )
        self._busy_starts = [begins for begins, _ in busy]
        self._busy_ends_so_far = list(accumulate((ends for _, ends in busy), max))
        cap = availability.daily_cap
        self._per_day = (
            Counter(local_day(b.starts_at, self._zone) for b in sessions) if cap is not None else Counter()
        )
        # UTC dates (days since EPOCH) within a day of a local date at its cap: only a slot
        # starting on one of them needs its local date looked up (an offset is under 24 h).
        self._near_full_days = {
            day.toordinal() - _EPOCH_ORDINAL + shift
            for day, count in self._per_day.items()
            if cap is not None and count >= cap
            for shift in (-1, 0, 1)
        }

    @property
    def earliest(self) -> datetime:
        return self.now + timedelta(hours=self.availability.min_notice_hours)

    @property
    def latest(self) -> datetime:
        return self.now + timedelta(days=self.availability.horizon_days)

    def free_slots(
        self,
        start: datetime,
        end: datetime,
        client: ClientWindows | None = None,
        *,
        limit: int | None = None,
    ) -> list[Slot]:
        """Bookable slots starting in [start, end), earliest first; only the first `limit` if given.

        A booking tries only the first few free slots of the whole horizon: with `limit` the
        search stops once it has them (the same slots as the first `limit` of the full list).
        """
        return list(islice(self.iter_free_slots(start, end, client), limit))

    def iter_free_slots(
        self, start: datetime, end: datetime, client: ClientWindows | None = None
    ) -> Iterator[Slot]:
        """`free_slots`, one at a time, earliest first: each is checked only when asked for."""
        start, end = max(start, self.earliest), min(end, self.latest + timedelta(microseconds=1))
        if start >= end:
            return
        cap = self.availability.daily_cap
        if cap is not None and cap <= 0:
            return  # every date is at its cap
        fits = _ClientFit.of(client, start, end + ONE_DAY)
        availability = self.availability
        session = availability.session_minutes * MICROS_PER_MINUTE
        length = timedelta(minutes=availability.session_minutes)
        # `_free_at` inlined (it runs for every offered start): the padded slot's cells against
        # the booked sessions' padded cells.
        before = availability.buffer_before_minutes * MICROS_PER_MINUTE
        after = session + availability.buffer_after_minutes * MICROS_PER_MINUTE
        busy_starts, busy_ends_so_far = self._busy_starts, self._busy_ends_so_far
        for starts in _offered_starts(availability, self._zone, start, end):
            index, count = 0, len(starts)
            while index < count:
                at = starts[index]
                index += 1
                if fits is not None and (following := fits.next_fit(at, at + session)) != at:
                    if following is None:
                        return  # no window of the client's is left
                    index = bisect_left(starts, following, index)  # skip what cannot fit
                    continue
                overlaps = bisect_left(busy_starts, -(-(at + after) // CELL_MICROS) * CELL_MICROS)
                if overlaps and busy_ends_so_far[overlaps - 1] > (at - before) // CELL_MICROS * CELL_MICROS:
                    continue
                if cap is not None and not self._under_cap_at(at):
                    continue
                starts_at = EPOCH + timedelta(0, 0, at)
                yield Slot(starts_at, starts_at + length)

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
        fits = _ClientFit.of(client, starts_at - ONE_DAY, starts_at + ONE_DAY)
        if fits is not None and not fits(micros(slot.starts_at), micros(slot.ends_at)):
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
        return self._free_at(micros(slot.starts_at), micros(slot.ends_at))

    def _under_cap(self, slot: Slot) -> bool:
        return self._under_cap_at(micros(slot.starts_at))

    def _free_at(self, starts_at: int, ends_at: int) -> bool:
        """Whether the padded slot, on the claim grid, meets no booked session's padded time."""
        a = self.availability
        begins = floor_cell_micros(starts_at - a.buffer_before_minutes * MICROS_PER_MINUTE)
        ends = ceil_cell_micros(ends_at + a.buffer_after_minutes * MICROS_PER_MINUTE)
        before = bisect_left(self._busy_starts, ends)  # sessions that start before this one ends
        return before == 0 or self._busy_ends_so_far[before - 1] <= begins

    def _under_cap_at(self, starts_at: int) -> bool:
        """Whether the local date of a start is under the daily cap (no cap: always)."""
        cap = self.availability.daily_cap
        if cap is None:
            return True
        if cap > 0 and starts_at // _MICROS_PER_DAY not in self._near_full_days:
            return True  # no date at its cap is within a day of this start
        return self._per_day[local_day(from_micros(starts_at), self._zone)] < cap


class _ClientFit:
    """Whether a slot lies inside one of the client's windows, merged into UTC intervals.

    Covers the client's local dates from the day before `start`'s to the day after `end`'s,
    read only as far as the slots asked about need (a booking that stops at its first few
    slots never converts the rest of the horizon). A window of local date D starts after
    D's midnight read as UTC minus a day, so once the dates before D are read, every window
    starting up to there is known; a slot's fit depends on those starting before it ends
    only (a window starting later can neither hold it nor join the one that does), so the
    answer is the one all the dates would give.
    """

    __slots__ = ("_by_day", "_ends", "_last", "_next", "_spans", "_starts", "_zone")

    def __init__(self, client: ClientWindows, start: datetime, end: datetime) -> None:
        self._zone = ZoneInfo(client.timezone)
        self._by_day: dict[int, list[Window]] = {}
        for weekday, window in client.weekly:
            self._by_day.setdefault(weekday, []).append(window)
        self._next = local_day(start, self._zone).toordinal() - 1  # the next local date to read
        self._last = local_day(end, self._zone).toordinal() + 1
        self._spans: list[tuple[int, int]] = []  # every window read, in UTC
        self._starts: list[int] = []  # the merged intervals
        self._ends: list[int] = []

    @classmethod
    def of(cls, client: ClientWindows | None, start: datetime, end: datetime) -> _ClientFit | None:
        """The test for the client's windows around [start, end); None (any slot) without a client."""
        return None if client is None else cls(client, start, end)

    def __call__(self, starts_at: int, ends_at: int) -> bool:
        return self.next_fit(starts_at, ends_at) == starts_at

    def next_fit(self, starts_at: int, ends_at: int) -> int | None:
        """`starts_at` if [starts_at, ends_at) lies in a window; else the earliest start at which a slot
        as long might (none after `starts_at` and before it does), or None if none ever does.

        Every window starting up to the frontier is known: a later start in the same
        interval ends after it too, and one before the next interval lies in no window.
        """
        if self._next <= self._last and self._frontier() < ends_at:
            self._read_until(ends_at)
        index = bisect_right(self._starts, starts_at) - 1
        if index >= 0 and self._ends[index] >= ends_at:
            return starts_at
        if index + 1 < len(self._starts):
            following = self._starts[index + 1]
            return following if self._next > self._last else min(following, self._frontier())
        return None if self._next > self._last else max(starts_at + 1, self._frontier())

    def _frontier(self) -> int:
        """No window of a date not read yet starts at or before this instant."""
        return (self._next - _EPOCH_ORDINAL - 1) * _MICROS_PER_DAY

    def _read_until(self, instant: int) -> None:
        """Read local dates until every window starting at or before `instant` is merged in."""
        read: list[tuple[int, int]] = []
        zone, by_day, ordinal = self._zone, self._by_day, self._next
        while ordinal <= self._last and (ordinal - _EPOCH_ORDINAL - 1) * _MICROS_PER_DAY < instant:
            if windows := by_day.get((ordinal + 6) % 7):
                read += [span for w in windows if (span := window_micros(ordinal, w.start, w.end, zone))]
            ordinal += 1
        self._next = ordinal
        read.sort()
        if self._spans and read and read[0] < self._spans[-1]:  # out of order: merge all again
            self._spans += read
            self._spans.sort()
            self._starts, self._ends = [], []
            read = self._spans
        else:
            self._spans += read
        starts, ends = self._starts, self._ends
        for a, b in read:
            if starts and a <= ends[-1]:
                ends[-1] = max(ends[-1], b)
            else:
                starts.append(a)
                ends.append(b)
