"""The fast slot maths against a plain reference: the same slots, in the same order (hypothesis).

`slots.py` works on integer microseconds, reads dates lazily and stops early; the reference
below is the straightforward datetime computation it replaced (every offered slot of every
date, hashed and sorted, each checked with padded datetimes and `local_day`). Random
calendars in zones with DST changes (whole-hour, half-hour, at midnight, southern
hemisphere), around those changes, with buffers, caps, exceptions, overlapping hand-built
windows, bookings off the grid, and client windows in another zone.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate, pairwise
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scheduling.commands.claim_slot import fitting_slots
from services.scheduling.domain.availability import Availability, DateException, WeeklyRule, Window
from services.scheduling.domain.claims import ceil_cell, floor_cell, padded
from services.scheduling.domain.local_time import local_day, window_to_utc
from services.scheduling.domain.slots import Booked, Calendar, ClientWindows, Refusal, Slot

ZONES = [
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Dublin",  # negative DST in the tz database
    "Australia/Lord_Howe",  # a half-hour change
    "America/Santiago",  # changes at midnight, southern hemisphere
    "America/Havana",  # changes at midnight
    "Asia/Kolkata",  # +05:30, no DST
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/St_Johns",  # -03:30 with DST
]
# Days of 2026 with a clock change in at least one of the zones.
CHANGES = [
    datetime(2026, 3, 8, tzinfo=UTC),
    datetime(2026, 3, 29, tzinfo=UTC),
    datetime(2026, 4, 5, tzinfo=UTC),
    datetime(2026, 9, 6, tzinfo=UTC),
    datetime(2026, 9, 27, tzinfo=UTC),
    datetime(2026, 10, 4, tzinfo=UTC),
    datetime(2026, 10, 25, tzinfo=UTC),
    datetime(2026, 11, 1, tzinfo=UTC),
]


# ----------------------------------------------------------------------------- reference


def reference_offered(availability: Availability, start: datetime, end: datetime) -> list[Slot]:
    zone = ZoneInfo(availability.timezone)
    session = timedelta(minutes=availability.session_minutes)
    step = timedelta(minutes=availability.slot_step_minutes)
    slots: set[Slot] = set()
    day = local_day(start, zone) - timedelta(days=1)
    while day <= local_day(end, zone) + timedelta(days=1):
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


def reference_client_fits(client: ClientWindows | None, start: datetime, end: datetime, slot: Slot) -> bool:
    if client is None:
        return True
    zone = ZoneInfo(client.timezone)
    spans = []
    day = local_day(start, zone) - timedelta(days=1)
    while day <= local_day(end, zone) + timedelta(days=1):
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
    index = bisect_right([a for a, _ in merged], slot.starts_at) - 1
    return index >= 0 and merged[index][1] >= slot.ends_at


class Reference:
    """The calendar as first written: datetimes all the way, every slot of the range checked."""

    def __init__(self, availability: Availability, booked: list[Booked], now: datetime) -> None:
        self.availability, self.now = availability, now
        sessions = sorted(booked, key=lambda b: floor_cell(b.busy_from))
        self.busy_starts = [floor_cell(b.busy_from) for b in sessions]
        self.busy_ends = list(accumulate((ceil_cell(b.busy_to) for b in sessions), max))
        self.per_day = Counter(local_day(b.starts_at, ZoneInfo(availability.timezone)) for b in sessions)
        self.earliest = now + timedelta(hours=availability.min_notice_hours)
        self.latest = now + timedelta(days=availability.horizon_days)

    def free(self, slot: Slot) -> bool:
        a = self.availability
        busy_from, busy_to = padded(
            slot.starts_at, slot.ends_at, a.buffer_before_minutes, a.buffer_after_minutes
        )
        before = bisect_left(self.busy_starts, ceil_cell(busy_to))
        return before == 0 or self.busy_ends[before - 1] <= floor_cell(busy_from)

    def under_cap(self, slot: Slot) -> bool:
        cap, zone = self.availability.daily_cap, ZoneInfo(self.availability.timezone)
        return cap is None or self.per_day[local_day(slot.starts_at, zone)] < cap

    def free_slots(self, start: datetime, end: datetime, client: ClientWindows | None) -> list[Slot]:
        start, end = max(start, self.earliest), min(end, self.latest + timedelta(microseconds=1))
        if start >= end:
            return []
        return [
            slot
            for slot in reference_offered(self.availability, start, end)
            if self.free(slot)
            and self.under_cap(slot)
            and reference_client_fits(client, start, end + timedelta(days=1), slot)
        ]

    def refusal(self, starts_at: datetime, client: ClientWindows | None) -> Refusal | None:
        if starts_at > self.latest:
            return Refusal.outside_horizon
        if starts_at < self.earliest:
            return Refusal.too_short_notice
        offered = reference_offered(self.availability, starts_at, starts_at + timedelta(minutes=1))
        if not offered:
            return Refusal.not_offered
        slot, day = offered[0], timedelta(days=1)
        if not reference_client_fits(client, starts_at - day, starts_at + day, slot):
            return Refusal.outside_client_windows
        if not self.free(slot):
            return Refusal.taken
        return None if self.under_cap(slot) else Refusal.daily_cap_reached


# ----------------------------------------------------------------------------- strategies


@st.composite
def windows(draw: st.DrawFn) -> Window:
    start = draw(st.integers(0, 287)) * 5
    length = draw(st.sampled_from([60, 120, 180, 240, 480, 1440]) | st.integers(1, 288).map(lambda n: n * 5))
    return Window(start, min(1440, start + length))


@st.composite
def instants(draw: st.DrawFn, around: datetime, hours: int) -> datetime:
    return around + timedelta(
        minutes=draw(st.integers(-hours * 60, hours * 60)),
        microseconds=draw(st.sampled_from([0, 0, 0, 1, 999_999])) + draw(st.integers(0, 59)) * 1_000_000,
    )


@st.composite
def cases(
    draw: st.DrawFn,
) -> tuple[Availability, list[Booked], datetime, datetime, datetime, ClientWindows | None]:
    change = draw(st.sampled_from(CHANGES))
    now = draw(instants(change, 96))
    exception_days = draw(st.lists(st.integers(-3, 8), max_size=2, unique=True))
    availability = Availability(
        timezone=draw(st.sampled_from(ZONES)),
        weekly=tuple(
            WeeklyRule(day, window)
            for day, window in draw(st.lists(st.tuples(st.integers(0, 6), windows()), min_size=3, max_size=9))
        ),
        exceptions=tuple(
            DateException(now.date() + timedelta(days=d), tuple(draw(st.lists(windows(), max_size=2))))
            for d in exception_days
        ),
        session_minutes=draw(st.sampled_from([15, 25, 50, 60, 90]) | st.integers(1, 24).map(lambda n: n * 5)),
        buffer_before_minutes=draw(st.sampled_from([0, 0, 5, 15])),
        buffer_after_minutes=draw(st.sampled_from([0, 0, 10, 20])),
        min_notice_hours=draw(st.sampled_from([0, 1, 24])),
        horizon_days=draw(st.integers(2, 12)),
        daily_cap=draw(st.sampled_from([None, None, None, 0, 1, 2, 4])),
        slot_step_minutes=draw(st.sampled_from([5, 15, 20, 30, 60])),
    )
    booked = []
    for number in range(draw(st.integers(0, 12))):
        starts_at = draw(instants(now, 24 * 10))
        ends_at = starts_at + timedelta(minutes=draw(st.integers(1, 90)))
        before, after = draw(st.sampled_from([0, 10])), draw(st.sampled_from([0, 5, 10]))
        booked.append(Booked(f"s-{number}", starts_at, *padded(starts_at, ends_at, before, after)))
    start = now + timedelta(
        minutes=draw(st.integers(-24 * 60, 72 * 60)), microseconds=draw(st.integers(0, 2))
    )
    end = start + timedelta(days=draw(st.integers(0, 13)), minutes=draw(st.integers(1, 1440)))
    client = None
    if draw(st.integers(0, 3)):  # a client three times in four
        weekly = draw(st.lists(st.tuples(st.integers(0, 6), windows()), min_size=3, max_size=8))
        client = ClientWindows(draw(st.sampled_from(ZONES)), tuple(weekly))
    return availability, booked, now, start, end, client


# ----------------------------------------------------------------------------- properties


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), limit=st.integers(1, 10), excluded=st.integers(0, 3))
def test_free_slots_are_exactly_the_plain_reference_computation_around_dst_changes(
    case: tuple[Availability, list[Booked], datetime, datetime, datetime, ClientWindows | None],
    limit: int,
    excluded: int,
) -> None:
    availability, booked, now, start, end, client = case
    exclude = [b.session_id for b in booked[:excluded]]
    calendar = Calendar(availability, booked, now=now, exclude=exclude)
    reference = Reference(availability, booked[excluded:], now)

    expected = reference.free_slots(start, end, client)

    assert calendar.free_slots(start, end, client) == expected
    assert calendar.free_slots(start, end, client, limit=limit) == expected[:limit]
    for slot in [*expected[:3], *reference_offered(availability, start, end)[:3]]:
        assert calendar.refusal(slot.starts_at, client) == reference.refusal(slot.starts_at, client)
    assert calendar.refusal(start, client) == reference.refusal(start, client)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=cases(),
    attempts=st.integers(1, 8),
    near_hours=st.none() | st.integers(-72, 72),
    within_hours=st.none() | st.integers(0, 72),
)
def test_a_booking_tries_the_first_free_slots_of_the_reference_or_the_nearest_ones(
    case: tuple[Availability, list[Booked], datetime, datetime, datetime, ClientWindows | None],
    attempts: int,
    near_hours: int | None,
    within_hours: int | None,
) -> None:
    availability, booked, now, _, _, client = case
    calendar = Calendar(availability, booked, now=now)
    reference = Reference(availability, booked, now)
    near = None if near_hours is None else now + timedelta(hours=near_hours)
    within = None if within_hours is None else timedelta(hours=within_hours)

    tried = fitting_slots(calendar, client, now=now, near=near, within=within, attempts=attempts)

    if near is not None and within is not None:
        expected = reference.free_slots(near - within, near + within + timedelta(microseconds=1), client)
    else:
        expected = reference.free_slots(now, reference.latest + timedelta(microseconds=1), client)
    if near is not None:
        expected.sort(key=lambda s: (abs(s.starts_at - near), s.starts_at))
    assert tried == expected[:attempts]


def test_offered_slots_on_the_day_new_york_repeats_an_hour_match_the_reference() -> None:
    availability = Availability(
        "America/New_York",
        (WeeklyRule(6, Window(0, 180)), WeeklyRule(6, Window(60, 150))),  # overlapping on purpose
        slot_step_minutes=5,
        min_notice_hours=0,
        session_minutes=25,
    )
    now = datetime(2026, 10, 30, tzinfo=UTC)
    calendar = Calendar(availability, [], now=now)
    day = date(2026, 11, 1)
    start = datetime.combine(day, datetime.min.time(), UTC)

    slots = calendar.free_slots(start, start + timedelta(days=1))

    assert slots == Reference(availability, [], now).free_slots(start, start + timedelta(days=1), None)
    assert len(slots) == len(set(slots)) and slots == sorted(slots)


def test_windows_overlapping_across_havanas_repeated_midnight_hour_give_each_start_once_in_order() -> None:
    # Havana's clocks go back from 01:00 to 00:00 on Sunday 1 November 2026: Saturday's window
    # ends at the second midnight, Sunday's starts at the first, so the two overlap by an hour.
    availability = Availability(
        "America/Havana",
        (WeeklyRule(5, Window(22 * 60, 1440)), WeeklyRule(6, Window(0, 120))),
        slot_step_minutes=5,
        session_minutes=15,
        min_notice_hours=0,
    )
    now = datetime(2026, 10, 30, tzinfo=UTC)
    start, end = datetime(2026, 10, 31, 12, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    calendar = Calendar(availability, [], now=now)

    slots = calendar.free_slots(start, end)

    assert slots == Reference(availability, [], now).free_slots(start, end, None)
    assert all(a.starts_at < b.starts_at for a, b in pairwise(slots))
    assert calendar.free_slots(start, end, limit=40) == slots[:40]


def test_a_client_window_joined_across_havanas_repeated_midnight_holds_the_reference_slots() -> None:
    availability = Availability(
        "UTC",
        tuple(WeeklyRule(day, Window(0, 1440)) for day in range(7)),
        slot_step_minutes=5,
        session_minutes=60,
        min_notice_hours=0,
    )
    client = ClientWindows(
        "America/Havana", ((5, Window(23 * 60, 1440)), (6, Window(0, 30)), (6, Window(90, 150)))
    )
    now = datetime(2026, 10, 30, tzinfo=UTC)
    start, end = datetime(2026, 10, 31, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC)
    calendar = Calendar(availability, [], now=now)

    slots = calendar.free_slots(start, end, client)

    assert slots == Reference(availability, [], now).free_slots(start, end, client)
    assert slots[0].starts_at == datetime(2026, 11, 1, 3, 0, tzinfo=UTC)  # Saturday 23:00 in Havana
    assert calendar.free_slots(start, end, client, limit=3) == slots[:3]
