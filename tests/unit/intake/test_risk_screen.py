"""Every risk tier of the C-SSRS screen (DOMAIN.md), its reason codes, and inconsistent answers."""

from __future__ import annotations

import pytest

from services.intake.domain.risk import ScreenerAnswers, screen_risk
from shared.events.common import RiskLevel

NO = {"q1": False, "q2": False, "q6_ever": False}


@pytest.mark.parametrize(
    ("item9", "answers", "level"),
    [
        # none
        (0, None, RiskLevel.none),
        (0, NO, RiskLevel.none),
        # low: Q1 or Q2 yes only, or item 9 > 0 with every answer no
        (1, NO, RiskLevel.low),
        (3, {**NO, "q3": False, "q4": False, "q5": False}, RiskLevel.low),
        (1, {**NO, "q1": True}, RiskLevel.low),
        (1, {**NO, "q2": True, "q3": False, "q4": False, "q5": False}, RiskLevel.low),
        (2, {**NO, "q1": True, "q2": True, "q3": False, "q4": False, "q5": False}, RiskLevel.low),
        # moderate: Q3 yes, or behaviour longer than 3 months ago
        (1, {**NO, "q2": True, "q3": True, "q4": False, "q5": False}, RiskLevel.moderate),
        (1, {**NO, "q6_ever": True, "q6_recent": False}, RiskLevel.moderate),
        # high: Q4 or Q5 yes, or behaviour within 3 months
        (1, {**NO, "q2": True, "q3": False, "q4": True, "q5": False}, RiskLevel.high),
        (1, {**NO, "q2": True, "q3": True, "q4": False, "q5": True}, RiskLevel.high),
        (1, {**NO, "q6_ever": True, "q6_recent": True}, RiskLevel.high),
        (3, {**NO, "q1": True, "q2": True, "q3": True, "q4": True, "q5": True}, RiskLevel.high),
    ],
)
def test_screen_gives_the_tier_of_its_highest_positive_answer(
    item9: int, answers: dict[str, bool] | None, level: RiskLevel
) -> None:
    screener = ScreenerAnswers(**answers) if answers is not None else None
    assert screen_risk(item9, screener).level is level


def test_reasons_name_every_positive_answer_in_question_order() -> None:
    screen = screen_risk(
        2, ScreenerAnswers(q1=True, q2=True, q3=True, q4=False, q5=True, q6_ever=True, q6_recent=False)
    )
    assert screen.reasons == (
        "phq9_item9_positive",
        "cssrs_wish_to_be_dead",
        "cssrs_suicidal_thoughts",
        "cssrs_thoughts_with_method",
        "cssrs_plan_with_intent",
        "cssrs_behaviour_lifetime",
    )
    assert screen.alerting


def test_a_clear_screen_has_no_reasons_and_does_not_alert() -> None:
    screen = screen_risk(0, None)
    assert screen.reasons == ()
    assert not screen.alerting


@pytest.mark.parametrize(
    ("level", "alerting"), [("none", False), ("low", False), ("moderate", True), ("high", True)]
)
def test_only_moderate_and_high_alert(level: str, alerting: bool) -> None:
    answers = {
        "none": (0, None),
        "low": (1, ScreenerAnswers(q1=False, q2=False, q6_ever=False)),
        "moderate": (1, ScreenerAnswers(q1=False, q2=True, q3=True, q4=False, q5=False, q6_ever=False)),
        "high": (1, ScreenerAnswers(q1=False, q2=True, q3=False, q4=True, q5=False, q6_ever=False)),
    }[level]
    assert screen_risk(*answers).alerting is alerting


def test_method_intent_or_plan_counts_even_when_q2_was_answered_no() -> None:
    """Q3–Q5 follow a yes to Q2; a yes given anyway is never discounted (safety first)."""
    assert (
        screen_risk(1, ScreenerAnswers(q1=False, q2=False, q3=True, q6_ever=False)).level
        is RiskLevel.moderate
    )
    assert screen_risk(1, ScreenerAnswers(q1=False, q2=False, q5=True, q6_ever=False)).level is RiskLevel.high


def test_recent_behaviour_counts_even_when_ever_was_answered_no() -> None:
    screen = screen_risk(1, ScreenerAnswers(q1=False, q2=False, q6_ever=False, q6_recent=True))
    assert screen.level is RiskLevel.high
    assert "cssrs_behaviour_past_3_months" in screen.reasons


def test_a_screener_given_with_item9_at_zero_still_counts() -> None:
    assert screen_risk(0, ScreenerAnswers(q1=True, q2=False, q6_ever=False)).level is RiskLevel.low
