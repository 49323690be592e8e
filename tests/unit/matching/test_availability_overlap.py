"""Weekly windows compared across time zones, daylight saving time and the week's wrap-around."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.matching.domain.availability import (
    MINUTES_PER_WEEK,
    overlap_fit,
    overlap_minutes,
    utc_intervals,
    week_key,
)

WINTER = date(2026, 1, 12)  # a Monday, no daylight saving time in New York or Berlin
SUMMER = date(2026, 7, 13)


def test_the_reference_week_is_named_by_its_monday() -> None:
    assert week_key(datetime(2026, 1, 15, 23, 0, tzinfo=UTC)) == WINTER


def test_a_utc_window_lands_at_its_minute_of_the_week() -> None:
    assert utc_intervals([("tue", "10:00", "11:30")], "UTC", WINTER) == ((1 * 1440 + 600, 1 * 1440 + 690),)


def test_a_local_window_is_shifted_by_its_zones_offset() -> None:
    # 18:00 in New York in January is 23:00 UTC the same day.
    assert utc_intervals([("mon", "18:00", "19:00")], "America/New_York", WINTER) == ((1380, 1440),)


def test_daylight_saving_time_is_honoured_for_the_week_being_matched() -> None:
    # 18:00 in New York in July (EDT, UTC-4) is 22:00 UTC.
    assert utc_intervals([("mon", "18:00", "19:00")], "America/New_York", SUMMER) == ((1320, 1380),)


def test_a_window_crossing_the_end_of_the_utc_week_wraps_to_its_start() -> None:
    # Sunday 22:00–24:00 in New York is Monday 03:00–05:00 UTC: the start of the week.
    assert utc_intervals([("sun", "22:00", "24:00")], "America/New_York", WINTER) == ((180, 300),)
    # Monday 00:30–02:00 in Berlin (UTC+1) starts Sunday 23:30 UTC, the very end of the week.
    assert utc_intervals([("mon", "00:30", "02:00")], "Europe/Berlin", WINTER) == (
        (0, 60),
        (MINUTES_PER_WEEK - 30, MINUTES_PER_WEEK),
    )


def test_a_berlin_morning_meets_a_new_york_night_before() -> None:
    client = utc_intervals([("wed", "00:00", "03:00")], "Europe/Berlin", WINTER)  # Tue 23:00–Wed 02:00 UTC
    therapist = utc_intervals(
        [("tue", "18:00", "21:00")], "America/New_York", WINTER
    )  # Tue 23:00–Wed 02:00 UTC
    assert overlap_minutes(client, therapist) == 180


def test_overlapping_windows_of_one_person_are_merged() -> None:
    merged = utc_intervals([("mon", "09:00", "11:00"), ("mon", "10:00", "12:00")], "UTC", WINTER)
    assert merged == ((540, 720),)


def test_the_whole_week_is_bounded_by_the_week() -> None:
    every_day = [(day, "00:00", "24:00") for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
    assert utc_intervals(every_day, "Asia/Kolkata", WINTER) == ((0, MINUTES_PER_WEEK),)


def test_no_shared_hours_overlap_nothing() -> None:
    mornings = utc_intervals([("mon", "08:00", "10:00")], "UTC", WINTER)
    evenings = utc_intervals([("mon", "18:00", "20:00")], "UTC", WINTER)
    assert overlap_minutes(mornings, evenings) == 0
    assert overlap_fit(mornings, evenings) == 0.0


def test_the_fit_is_full_once_three_hours_are_shared() -> None:
    client = utc_intervals([("mon", "08:00", "20:00")], "UTC", WINTER)
    assert overlap_fit(client, utc_intervals([("mon", "09:00", "12:00")], "UTC", WINTER)) == 1.0
    assert overlap_fit(client, utc_intervals([("mon", "09:00", "10:30")], "UTC", WINTER)) == 0.5


def test_a_client_with_one_free_hour_all_shared_fits_fully() -> None:
    client = utc_intervals([("thu", "12:00", "13:00")], "UTC", WINTER)
    assert overlap_fit(client, utc_intervals([("thu", "11:00", "15:00")], "UTC", WINTER)) == 1.0
