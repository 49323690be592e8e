"""Change at a check-in against the intake baseline: reliable change, response, remission, recovery."""

from __future__ import annotations

import pytest

from services.intake.domain.outcomes import Measures, measure_change


@pytest.mark.parametrize(
    ("baseline", "current", "improvement", "deterioration"),
    [
        ((15, 10), (10, 10), False, False),  # PHQ-9 down 5: within measurement error
        ((15, 10), (9, 10), True, False),  # PHQ-9 down 6: reliable
        ((15, 10), (15, 7), False, False),  # GAD-7 down 3
        ((15, 10), (15, 6), True, False),  # GAD-7 down 4: reliable
        ((10, 10), (15, 10), False, False),  # PHQ-9 up 5
        ((10, 10), (16, 10), False, True),  # PHQ-9 up 6: reliable deterioration
        ((10, 10), (10, 13), False, False),  # GAD-7 up 3
        ((10, 10), (10, 14), False, True),  # GAD-7 up 4
        ((15, 5), (9, 9), False, True),  # mixed: PHQ-9 better, GAD-7 worse -> deterioration wins
        ((15, 10), (9, 6), True, False),  # both reliably better
    ],
)
def test_reliable_change_needs_a_phq9_move_of_6_or_a_gad7_move_of_4(
    baseline: tuple[int, int], current: tuple[int, int], improvement: bool, deterioration: bool
) -> None:
    change = measure_change(Measures(*baseline), Measures(*current))
    assert change.reliable_improvement is improvement
    assert change.reliable_deterioration is deterioration
    assert change.phq9_delta == current[0] - baseline[0]
    assert change.gad7_delta == current[1] - baseline[1]


@pytest.mark.parametrize(
    ("baseline_phq9", "current_phq9", "response"),
    [(20, 10, True), (20, 11, False), (15, 7, True), (15, 8, False), (1, 0, True), (0, 0, False)],
)
def test_response_is_a_phq9_drop_of_at_least_half(
    baseline_phq9: int, current_phq9: int, response: bool
) -> None:
    assert measure_change(Measures(baseline_phq9, 5), Measures(current_phq9, 5)).response is response


@pytest.mark.parametrize(("current_phq9", "remission"), [(4, True), (5, False), (0, True)])
def test_remission_is_phq9_below_5(current_phq9: int, remission: bool) -> None:
    assert measure_change(Measures(18, 12), Measures(current_phq9, 12)).remission is remission


@pytest.mark.parametrize(
    ("baseline", "current", "recovery"),
    [
        ((10, 0), (9, 7), True),  # PHQ-9 caseness to below both cut-offs
        ((0, 8), (9, 7), True),  # GAD-7 caseness to below both
        ((9, 7), (0, 0), False),  # never a case: nothing to recover from
        ((12, 9), (9, 8), False),  # GAD-7 still at caseness
        ((12, 9), (10, 5), False),  # PHQ-9 still at caseness
    ],
)
def test_recovery_moves_from_caseness_to_below_both_cut_offs(
    baseline: tuple[int, int], current: tuple[int, int], recovery: bool
) -> None:
    assert measure_change(Measures(*baseline), Measures(*current)).recovery is recovery
