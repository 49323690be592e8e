"""Series occurrences: the cadence at the anchor's wall-clock time, collisions moved or reported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.scheduling.domain.availability import availability_from
from services.scheduling.domain.series import candidate_slots, last_occurrence_by, targets, unplaced_reason
from services.scheduling.domain.slots import Calendar
from shared.events.common import SessionCadence

NEW_YORK = ZoneInfo("America/New_York")
ANCHOR = datetime(2026, 10, 20, 18, 0, tzinfo=UTC)  # Tuesday 14:00 in New York (EDT)


def test_weekly_occurrences_keep_the_wall_clock_time_across_the_november_transition() -> None:
    found = targets(ANCHOR, NEW_YORK, SessionCadence.weekly, after=ANCHOR, until=ANCHOR + timedelta(days=22))
    assert found == [
        datetime(2026, 10, 27, 18, 0, tzinfo=UTC),
        datetime(2026, 11, 3, 19, 0, tzinfo=UTC),  # still 14:00 in New York, now EST
        datetime(2026, 11, 10, 19, 0, tzinfo=UTC),
    ]


def test_biweekly_and_four_weekly_cadences_space_occurrences_by_14_and_28_days() -> None:
    until = ANCHOR + timedelta(days=57)
    biweekly = targets(ANCHOR, NEW_YORK, SessionCadence.biweekly, after=ANCHOR, until=until)
    monthly = targets(ANCHOR, NEW_YORK, SessionCadence.every_4_weeks, after=ANCHOR, until=until)
    assert [t.astimezone(NEW_YORK).date().isoformat() for t in biweekly] == [
        "2026-11-03",
        "2026-11-17",
        "2026-12-01",
        "2026-12-15",
    ]
    assert [t.astimezone(NEW_YORK).date().isoformat() for t in monthly] == ["2026-11-17", "2026-12-15"]


def test_a_new_cadence_continues_from_the_last_occurrence_so_far() -> None:
    now = ANCHOR + timedelta(days=10)
    assert last_occurrence_by(ANCHOR, NEW_YORK, SessionCadence.weekly, now) == ANCHOR + timedelta(days=7)


def test_an_occurrence_on_a_day_off_moves_to_the_nearest_free_slot() -> None:
    availability = availability_from(
        {
            "timezone": "America/New_York",
            "weekly": [
                {"day": d, "start": "09:00", "end": "17:00"} for d in ("monday", "tuesday", "wednesday")
            ],
            "exceptions": [{"date": "2026-11-03", "off": True}],
        }
    )
    calendar = Calendar(availability, [], now=ANCHOR)
    target = datetime(2026, 11, 3, 19, 0, tzinfo=UTC)

    best = candidate_slots(calendar, target, client=None, max_shift=timedelta(days=3))[0]

    # Nearest in time: Wednesday 09:00 is 19 h after the target, Monday 16:00 22 h before it.
    assert best.starts_at == datetime(2026, 11, 4, 14, 0, tzinfo=UTC)


def test_an_occurrence_with_no_free_slot_nearby_is_reported_with_a_reason() -> None:
    availability = availability_from(
        {
            "timezone": "America/New_York",
            "weekly": [{"day": "tuesday", "start": "09:00", "end": "17:00"}],
            "exceptions": [{"date": "2026-11-03", "off": True}],
        }
    )
    calendar = Calendar(availability, [], now=ANCHOR)
    target = datetime(2026, 11, 3, 19, 0, tzinfo=UTC)

    assert candidate_slots(calendar, target, client=None, max_shift=timedelta(days=3)) == []
    assert unplaced_reason(calendar, target, None) == "slot_not_offered_no_free_slot_nearby"
