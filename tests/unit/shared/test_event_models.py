"""Event data models: required fields, value ranges, minimum necessary, forward compatibility."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from shared.events.common import TimeZoneName
from shared.events.models import IntakeCompleted, RiskFlagged, SessionBooked

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def intake_completed(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "intake_id": "intake-1",
        "client_id": "client-1",
        "submitted_at": NOW.isoformat(),
        "jurisdiction": "US-CA",
        "timezone": "America/Los_Angeles",
        "languages": ["en", "es-MX"],
        "concerns": ["anxiety", "stress"],
        "goals": ["sleep_better"],
        "phq9": {"total": 12, "severity": "moderate", "item9": 0},
        "gad7": {"total": 11, "severity": "moderate"},
        "risk_level": "none",
        "preferences": {"therapist_gender": "female", "session_format": "video", "approaches": ["cbt"]},
        "availability": [{"day": "tue", "start": "18:00", "end": "21:00"}],
    }
    return data | overrides


def test_a_complete_intake_completed_event_is_accepted() -> None:
    event = IntakeCompleted.model_validate(intake_completed())
    assert event.phq9.total == 12 and event.availability[0].day == "tue"


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("phq9", {"total": 28, "severity": "severe", "item9": 0}, "phq9.total"),
        ("gad7", {"total": 5, "severity": "moderately_severe"}, "gad7.severity"),
        ("concerns", ["insomnia"], "concerns.0"),
        ("timezone", "Mars/Olympus_Mons", "timezone"),
        ("submitted_at", "2026-11-26T12:00:00", "submitted_at"),
        ("availability", [{"day": "tue", "start": "21:00", "end": "18:00"}], "availability.0"),
        ("jurisdiction", "California", "jurisdiction"),
        ("client_id", "jane.doe@example.com", "client_id"),
    ],
)
def test_out_of_range_or_unknown_values_are_refused_naming_the_field(
    field: str, value: Any, where: str
) -> None:
    with pytest.raises(ValidationError) as error:
        IntakeCompleted.model_validate(intake_completed(**{field: value}))
    assert where in {".".join(str(p) for p in e["loc"]) for e in error.value.errors()}


def test_missing_required_field_is_refused() -> None:
    data = intake_completed()
    del data["risk_level"]
    with pytest.raises(ValidationError, match="risk_level"):
        IntakeCompleted.model_validate(data)


def test_fields_added_by_a_newer_producer_are_ignored_by_an_older_consumer() -> None:
    event = IntakeCompleted.model_validate(intake_completed(referral_source_code="gp"))
    assert "referral_source_code" not in event.model_dump()


def test_events_have_no_field_for_names_contact_details_or_free_text() -> None:
    from shared.events.registry import EVENTS

    forbidden = {"name", "email", "phone", "notes", "address", "answers", "free_text", "history"}
    for spec in EVENTS:
        assert not forbidden & set(spec.model.model_fields), spec.name


def test_risk_flagged_must_name_the_intake_or_check_in_it_comes_from() -> None:
    with pytest.raises(ValidationError, match="intake_id or check_in_id"):
        RiskFlagged(client_id="c", risk_level="high", reasons=["cssrs_q4_intent"], flagged_at=NOW)


def test_a_session_must_end_after_it_starts() -> None:
    with pytest.raises(ValidationError, match="ends_at must be after starts_at"):
        SessionBooked(
            session_id="s",
            client_id="c",
            therapist_id="t",
            starts_at=NOW,
            ends_at=NOW - timedelta(minutes=50),
            timezone="Europe/London",
            format="video",
            series_id="series-1",
            sequence=1,
            join_url="https://meet.carepath.dev/s",
        )


class WeeklyAvailabilityProbe(BaseModel):
    timezone: TimeZoneName


@pytest.mark.parametrize("zone", ["America", "Mars/Olympus", "../etc/passwd", ""])
def test_a_time_zone_that_is_not_an_iana_zone_is_a_validation_error(zone: str) -> None:
    with pytest.raises(ValidationError):
        WeeklyAvailabilityProbe.model_validate({"timezone": zone})
