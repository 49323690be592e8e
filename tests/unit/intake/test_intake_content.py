"""Intake sections are validated field by field; submission needs every field at once."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.intake.domain.intake import IntakeSections, NewIntake, submission_problems
from tests.unit.intake.samples import complete_sections


def bad_fields(**sections: Any) -> set[str]:
    with pytest.raises(ValidationError) as caught:
        IntakeSections.model_validate(sections)
    return {".".join(str(part) for part in error["loc"]) for error in caught.value.errors()}


def test_a_draft_may_hold_no_section_at_all() -> None:
    assert IntakeSections.model_validate({}).model_fields_set == set()


def test_a_complete_intake_is_valid() -> None:
    sections = IntakeSections.model_validate(complete_sections())
    assert submission_problems(sections) == []


@pytest.mark.parametrize(
    ("sections", "field"),
    [
        ({"phq9": [0, 1, 2, 3, 4, 0, 0, 0, 0]}, "phq9.4"),
        ({"phq9": [0, 1, 2, 3, -1, 0, 0, 0, 0]}, "phq9.4"),
        ({"phq9": [0] * 8}, "phq9"),
        ({"phq9": [0] * 10}, "phq9"),
        ({"phq9": ["1", 0, 0, 0, 0, 0, 0, 0, 0]}, "phq9.0"),
        ({"phq9": [True, 0, 0, 0, 0, 0, 0, 0, 0]}, "phq9.0"),
        ({"phq9": [1.5, 0, 0, 0, 0, 0, 0, 0, 0]}, "phq9.0"),
        ({"gad7": [0] * 6}, "gad7"),
        ({"gad7": [0, 0, 0, 0, 0, 0, 9]}, "gad7.6"),
        ({"concerns": ["anxiety", "boredom"]}, "concerns.1"),
        ({"concerns": []}, "concerns"),
        ({"concerns": ["anxiety", "anxiety"]}, "concerns"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "America"}, "timezone"),
        ({"timezone": "../etc/passwd"}, "timezone"),
        ({"jurisdiction": "California"}, "jurisdiction"),
        ({"languages": ["English"]}, "languages.0"),
        ({"availability": [{"day": "someday", "start": "09:00", "end": "17:00"}]}, "availability.0.day"),
        ({"availability": [{"day": "monday", "start": "17:00", "end": "09:00"}]}, "availability.0"),
        ({"availability": [{"day": "monday", "start": "9am", "end": "17:00"}]}, "availability.0.start"),
        ({"availability": [{"day": "monday", "start": "٠٩:٠٠", "end": "17:00"}]}, "availability.0.start"),
        ({"cssrs": {"q1": "yes"}}, "cssrs.q1"),
        ({"goals": [{"code": "Sleep Better"}]}, "goals.0.code"),
        ({"goals": [{"code": "sleep"}, {"code": "sleep"}]}, "goals"),
        ({"history": {"background": "x" * 4001}}, "history.background"),
        ({"preferences": {"format": "carrier_pigeon"}}, "preferences.format"),
        ({"email": "jane@example.com"}, "email"),
    ],
)
def test_a_bad_field_is_named_by_its_path(sections: dict[str, Any], field: str) -> None:
    assert field in bad_fields(**sections)


def test_every_bad_field_is_named_in_one_answer() -> None:
    fields = bad_fields(phq9=[9] * 9, timezone="Nowhere/Land", concerns=["boredom"])
    assert {"phq9.0", "phq9.8", "timezone", "concerns.0"} <= fields


def test_a_whole_number_written_with_a_fraction_is_the_same_answer() -> None:
    sections = IntakeSections.model_validate({"gad7": [1.0, 2, 0, 0, 0, 0, 3.0]})
    assert sections.gad7 == [1, 2, 0, 0, 0, 0, 3]


def test_days_may_be_short_and_are_kept_as_full_names() -> None:
    sections = IntakeSections.model_validate(
        {"availability": [{"day": "tue", "start": "18:00", "end": "24:00"}]}
    )
    assert sections.availability is not None
    assert sections.availability[0].day == "tuesday"


def test_a_new_intake_names_its_client() -> None:
    with pytest.raises(ValidationError):
        NewIntake.model_validate({})
    assert NewIntake.model_validate({"client_id": "client-1"}).client_id == "client-1"


def test_submission_lists_every_missing_field_at_once() -> None:
    problems = submission_problems(IntakeSections.model_validate({"concerns": ["grief_loss"]}))
    assert [p.field for p in problems] == [
        "jurisdiction",
        "timezone",
        "languages",
        "phq9",
        "gad7",
        "availability",
    ]


def test_submission_needs_the_screener_when_item9_is_above_zero() -> None:
    sections = IntakeSections.model_validate(complete_sections(phq9=[0] * 8 + [1]))
    assert [p.field for p in submission_problems(sections)] == ["cssrs"]


@pytest.mark.parametrize(
    ("screener", "missing"),
    [
        ({}, ["cssrs.q1", "cssrs.q2", "cssrs.q6_ever"]),
        ({"q1": True, "q2": False, "q6_ever": False}, []),
        ({"q1": True, "q2": True, "q6_ever": False}, ["cssrs.q3", "cssrs.q4", "cssrs.q5"]),
        ({"q1": True, "q2": False, "q6_ever": True}, ["cssrs.q6_recent"]),
    ],
)
def test_the_screener_must_be_complete_for_the_answers_given(
    screener: dict[str, bool], missing: list[str]
) -> None:
    sections = IntakeSections.model_validate(complete_sections(phq9=[0] * 8 + [2], cssrs=screener))
    assert [p.field for p in submission_problems(sections)] == missing


def test_no_screener_is_needed_when_item9_is_zero() -> None:
    sections = IntakeSections.model_validate(complete_sections(cssrs=None))
    assert submission_problems(sections) == []
