"""Availability input: each impossible rule is refused, naming the field at fault."""

from __future__ import annotations

from typing import Any

import pytest

from services.scheduling.domain.availability import AvailabilityError, Window, availability_from
from services.scheduling.store.therapists import availability_to_document


def spec(**changes: Any) -> dict[str, Any]:
    return {
        "timezone": "Europe/Berlin",
        "weekly": [{"day": "monday", "start": "09:00", "end": "17:00"}],
        **changes,
    }


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "unknown IANA time zone"),
        (
            {"weekly": [{"day": "monday", "start": "17:00", "end": "09:00"}]},
            "weekly[0].end",
            "not after start",
        ),
        (
            {
                "weekly": [
                    {"day": "monday", "start": "09:00", "end": "12:00"},
                    {"day": "mon", "start": "11:00", "end": "13:00"},
                ]
            },
            "weekly[1]",
            "overlaps weekly[0]",
        ),
        ({"weekly": [{"day": "funday", "start": "09:00", "end": "12:00"}]}, "weekly[0].day", "weekday"),
        ({"weekly": [{"day": "monday", "start": "9am", "end": "12:00"}]}, "weekly[0].start", "HH:MM"),
        ({"weekly": [{"day": "monday", "start": "09:07", "end": "12:00"}]}, "weekly[0]", "5-minute"),
        ({"session_minutes": 52}, "session_minutes", "multiple of 5"),
        (
            {"exceptions": [{"date": "2026-03-02", "off": True}, {"date": "2026-03-02", "off": True}]},
            "exceptions[1].date",
            "given twice",
        ),
        (
            {
                "exceptions": [
                    {"date": "2026-03-02", "off": True, "windows": [{"start": "09:00", "end": "10:00"}]}
                ]
            },
            "exceptions[0]",
            "day off has no windows",
        ),
    ],
)
def test_impossible_availability_is_refused_naming_the_field(
    changes: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(AvailabilityError) as refused:
        availability_from(spec(**changes))
    assert refused.value.field == field
    assert words in refused.value.message


def test_rules_may_end_at_midnight_and_touch_without_overlapping() -> None:
    availability = availability_from(
        spec(
            weekly=[
                {"day": "friday", "start": "18:00", "end": "24:00"},
                {"day": "friday", "start": "12:00", "end": "18:00"},
            ]
        )
    )
    assert [r.window for r in availability.weekly] == [Window(1080, 1440), Window(720, 1080)]


def test_stored_availability_reads_back_the_same() -> None:
    original = availability_from(
        spec(
            exceptions=[{"date": "2026-12-24", "windows": [{"start": "09:00", "end": "12:00"}]}], daily_cap=4
        )
    )
    assert availability_from(availability_to_document(original)) == original
