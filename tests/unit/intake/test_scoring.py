"""PHQ-9 and GAD-7 totals and severity bands at every boundary; the item-9 rule (DOMAIN.md)."""

from __future__ import annotations

import pytest

from services.intake.domain.scoring import (
    gad7_severity,
    phq9_severity,
    score_gad7,
    score_phq9,
    screener_required,
)


@pytest.mark.parametrize(
    ("total", "severity"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_total_falls_in_its_band(total: int, severity: str) -> None:
    assert phq9_severity(total) == severity


@pytest.mark.parametrize(
    ("total", "severity"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_total_falls_in_its_band(total: int, severity: str) -> None:
    assert gad7_severity(total) == severity


@pytest.mark.parametrize("total", [-1, 28])
def test_phq9_total_outside_0_to_27_is_refused(total: int) -> None:
    with pytest.raises(ValueError, match="0–27"):
        phq9_severity(total)


@pytest.mark.parametrize("total", [-1, 22])
def test_gad7_total_outside_0_to_21_is_refused(total: int) -> None:
    with pytest.raises(ValueError, match="0–21"):
        gad7_severity(total)


@pytest.mark.parametrize(
    ("items", "total", "severity", "item9"),
    [
        ([0] * 9, 0, "minimal", 0),
        ([1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "minimal", 0),
        ([1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild", 0),
        ([2, 2, 2, 2, 1, 0, 0, 0, 0], 9, "mild", 0),
        ([2, 2, 2, 2, 2, 0, 0, 0, 0], 10, "moderate", 0),
        ([2, 2, 2, 2, 2, 2, 2, 0, 0], 14, "moderate", 0),
        ([2, 2, 2, 2, 2, 2, 2, 1, 0], 15, "moderately_severe", 0),
        ([3, 3, 3, 2, 2, 2, 2, 2, 0], 19, "moderately_severe", 0),
        ([3, 3, 3, 3, 2, 2, 2, 2, 0], 20, "severe", 0),
        ([3] * 9, 27, "severe", 3),
        ([0, 0, 0, 0, 0, 0, 0, 0, 1], 1, "minimal", 1),
    ],
)
def test_phq9_scores_total_band_and_item9(items: list[int], total: int, severity: str, item9: int) -> None:
    score = score_phq9(items)
    assert (score.total, score.severity, score.item9) == (total, severity, item9)


@pytest.mark.parametrize(
    ("items", "total", "severity"),
    [
        ([0] * 7, 0, "minimal"),
        ([1, 1, 1, 1, 0, 0, 0], 4, "minimal"),
        ([1, 1, 1, 1, 1, 0, 0], 5, "mild"),
        ([2, 2, 2, 2, 1, 0, 0], 9, "mild"),
        ([2, 2, 2, 2, 2, 0, 0], 10, "moderate"),
        ([2, 2, 2, 2, 2, 2, 2], 14, "moderate"),
        ([3, 2, 2, 2, 2, 2, 2], 15, "severe"),
        ([3] * 7, 21, "severe"),
    ],
)
def test_gad7_scores_total_and_band(items: list[int], total: int, severity: str) -> None:
    score = score_gad7(items)
    assert (score.total, score.severity) == (total, severity)


@pytest.mark.parametrize("items", [[0] * 8, [0] * 10, [0] * 8 + [4], [0] * 8 + [-1]])
def test_phq9_needs_nine_items_scored_0_to_3(items: list[int]) -> None:
    with pytest.raises(ValueError, match="PHQ-9"):
        score_phq9(items)


@pytest.mark.parametrize("items", [[0] * 6, [0] * 8, [0] * 6 + [4]])
def test_gad7_needs_seven_items_scored_0_to_3(items: list[int]) -> None:
    with pytest.raises(ValueError, match="GAD-7"):
        score_gad7(items)


@pytest.mark.parametrize(
    ("item9", "required"),
    [(0, False), (1, True), (2, True), (3, True)],
)
def test_item9_above_zero_requires_the_screener_whatever_the_total(item9: int, required: bool) -> None:
    items = [0] * 8 + [item9]
    assert screener_required(items) is required
    assert score_phq9(items).needs_screener is required
    assert screener_required([3] * 8 + [0]) is False  # a severe total alone does not
