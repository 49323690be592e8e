"""Slot maths: weekly rules in the therapist's zone, the client's windows in theirs, DST, policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.scheduling.domain.availability import availability_from
from services.scheduling.domain.care import windows_from
from services.scheduling.domain.claims import padded
from services.scheduling.domain.slots import Booked, Calendar, ClientWindows, Refusal, Slot


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type,misc,unused-ignore]


def rules(zone: str, *weekly: tuple[str, str, str], **extra: Any) -> Any:
    return availability_from(
        {"timezone": zone, "weekly": [{"day": d, "start": s, "end": e} for d, s, e in weekly], **extra}
    )


def starts(slots: list[Slot]) -> list[datetime]:
    return [s.starts_at for s in slots]


def booked(
    session_id: str, starts_at: datetime, minutes: int = 50, before: int = 0, after: int = 0
) -> Booked:
    ends_at = starts_at + timedelta(minutes=minutes)
    return Booked(session_id, starts_at, *padded(starts_at, ends_at, before, after))


EARLY = utc(2026, 2, 1)


def test_nine_oclock_in_new_york_moves_an_hour_earlier_in_utc_across_the_march_transition() -> None:
    calendar = Calendar(
        rules("America/New_York", ("friday", "09:00", "10:00"), ("monday", "09:00", "10:00")), [], now=EARLY
    )
    # Clocks go forward on Sunday 8 March 2026.
    slots = calendar.free_slots(utc(2026, 3, 6), utc(2026, 3, 10))
    assert starts(slots) == [utc(2026, 3, 6, 14, 0), utc(2026, 3, 9, 13, 0)]


def test_nine_oclock_in_new_york_moves_an_hour_later_in_utc_across_the_november_transition() -> None:
    calendar = Calendar(
        rules("America/New_York", ("friday", "09:00", "10:00"), ("monday", "09:00", "10:00")),
        [],
        now=utc(2026, 10, 1),
    )
    # Clocks go back on Sunday 1 November 2026.
    slots = calendar.free_slots(utc(2026, 10, 30), utc(2026, 11, 3))
    assert starts(slots) == [utc(2026, 10, 30, 13, 0), utc(2026, 11, 2, 14, 0)]


def test_a_window_across_the_skipped_hour_in_march_offers_only_real_instants() -> None:
    # 01:00–04:00 on 8 March 2026 lasts two real hours: 02:00–03:00 never happens.
    calendar = Calendar(rules("America/New_York", ("sunday", "01:00", "04:00")), [], now=EARLY)
    slots = calendar.free_slots(utc(2026, 3, 8), utc(2026, 3, 9))
    assert starts(slots) == [utc(2026, 3, 8, 6, 0), utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 0)]
    assert all(s.ends_at <= utc(2026, 3, 8, 8, 0) for s in slots)


def test_a_window_across_the_repeated_hour_in_november_covers_it_both_times() -> None:
    # 00:00–03:00 on 1 November 2026 lasts four real hours: 01:00–02:00 happens twice.
    calendar = Calendar(rules("America/New_York", ("sunday", "00:00", "03:00")), [], now=utc(2026, 10, 1))
    slots = calendar.free_slots(utc(2026, 11, 1), utc(2026, 11, 2))
    assert starts(slots)[0] == utc(2026, 11, 1, 4, 0) and starts(slots)[-1] == utc(2026, 11, 1, 7, 0)
    assert len(slots) == 7


def test_london_client_and_los_angeles_therapist_overlap_less_while_only_the_us_has_changed_clocks() -> None:
    therapist = rules("America/Los_Angeles", ("monday", "09:00", "12:00"))
    client = ClientWindows(
        "Europe/London", windows_from([{"day": "monday", "start": "17:00", "end": "20:00"}])
    )
    calendar = Calendar(therapist, [], now=EARLY)

    def monday(day: int) -> list[datetime]:
        return starts(calendar.free_slots(utc(2026, 3, day), utc(2026, 3, day + 1), client))

    # 2 March: both on standard time, LA 09:00 is London 17:00.
    assert monday(2) == [utc(2026, 3, 2, 17, 0) + timedelta(minutes=30 * i) for i in range(5)]
    # 9 and 16 March: LA on daylight time (from 8 March), London not yet (29 March).
    assert monday(9) == [utc(2026, 3, 9, 17, 0), utc(2026, 3, 9, 17, 30), utc(2026, 3, 9, 18, 0)]
    # 30 March: both on daylight time again, LA 09:00 is London 17:00 (16:00 UTC).
    assert monday(30) == [utc(2026, 3, 30, 16, 0) + timedelta(minutes=30 * i) for i in range(5)]


def test_buffers_of_neighbouring_sessions_stack() -> None:
    therapist = rules(
        "UTC",
        ("monday", "09:00", "17:00"),
        buffer_before_minutes=10,
        buffer_after_minutes=10,
        slot_step_minutes=5,
    )
    existing = booked("s-1", utc(2026, 3, 2, 9, 0), before=10, after=10)
    calendar = Calendar(therapist, [existing], now=EARLY)

    slots = calendar.free_slots(utc(2026, 3, 2, 9, 0), utc(2026, 3, 2, 11, 0))

    # 09:50 + 10 after the first + 10 before the next.
    assert starts(slots)[0] == utc(2026, 3, 2, 10, 10)
    assert calendar.refusal(utc(2026, 3, 2, 10, 5)) is Refusal.taken


def test_nothing_is_offered_sooner_than_the_minimum_notice() -> None:
    now = utc(2026, 3, 2, 15, 10)  # Monday 10:10 in New York
    calendar = Calendar(rules("America/New_York", ("tuesday", "09:00", "17:00")), [], now=now)

    slots = calendar.free_slots(now, now + timedelta(days=2))

    assert starts(slots)[0] == utc(2026, 3, 3, 15, 30)  # Tuesday 10:30, the first after 24 h
    assert calendar.refusal(utc(2026, 3, 3, 15, 0)) is Refusal.too_short_notice


def test_nothing_is_offered_beyond_the_horizon() -> None:
    now = utc(2026, 3, 2, 12, 0)
    calendar = Calendar(
        rules(
            "UTC",
            *((d, "09:00", "10:00") for d in ("tuesday", "wednesday", "thursday")),
            horizon_days=2,
            min_notice_hours=0,
        ),
        [],
        now=now,
    )

    slots = calendar.free_slots(now, now + timedelta(days=10))

    assert starts(slots) == [utc(2026, 3, 3, 9, 0), utc(2026, 3, 4, 9, 0)]
    assert calendar.refusal(utc(2026, 3, 5, 9, 0)) is Refusal.outside_horizon


def test_a_day_at_its_cap_offers_nothing_more() -> None:
    therapist = rules("UTC", ("tuesday", "09:00", "17:00"), ("wednesday", "09:00", "10:00"), daily_cap=2)
    calendar = Calendar(
        therapist, [booked("a", utc(2026, 3, 3, 9, 0)), booked("b", utc(2026, 3, 3, 13, 0))], now=EARLY
    )

    slots = calendar.free_slots(utc(2026, 3, 3), utc(2026, 3, 5))

    assert starts(slots) == [utc(2026, 3, 4, 9, 0)]
    assert calendar.refusal(utc(2026, 3, 3, 15, 0)) is Refusal.daily_cap_reached


def test_exceptions_replace_the_weekly_rules_of_their_date() -> None:
    therapist = rules(
        "UTC",
        ("monday", "09:00", "10:00"),
        exceptions=[
            {"date": "2026-03-02", "off": True},
            {"date": "2026-03-09", "windows": [{"start": "14:00", "end": "15:00"}]},
        ],
    )
    calendar = Calendar(therapist, [], now=EARLY)

    slots = calendar.free_slots(utc(2026, 3, 1), utc(2026, 3, 17))

    assert starts(slots) == [utc(2026, 3, 9, 14, 0), utc(2026, 3, 16, 9, 0)]
    assert calendar.refusal(utc(2026, 3, 2, 9, 0)) is Refusal.not_offered


def test_a_start_off_the_slot_grid_is_not_offered() -> None:
    calendar = Calendar(rules("UTC", ("monday", "09:00", "12:00")), [], now=EARLY)
    assert calendar.refusal(utc(2026, 3, 2, 9, 10)) is Refusal.not_offered
    assert calendar.refusal(utc(2026, 3, 2, 9, 30)) is None
