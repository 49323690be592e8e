"""Goal targets and the reasons a check-in suggests reviewing the treatment plan."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from services.intake.domain.outcomes import Change, Measures, measure_change
from services.intake.domain.plan import PlanGoal, Target, goals_reached, review_reasons
from shared.events.common import RiskLevel

STEADY = measure_change(Measures(12, 10), Measures(11, 9))
BETTER = measure_change(Measures(12, 10), Measures(5, 9))
WORSE = measure_change(Measures(12, 10), Measures(18, 10))


def reasons(
    change: Change = STEADY,
    earlier: Sequence[bool] = (),
    now: Sequence[str] = (),
    before: Sequence[str] = (),
    risk: RiskLevel = RiskLevel.none,
) -> list[str]:
    return review_reasons(
        change, earlier_improvements=earlier, goals_reached_now=now, goals_reached_before=before, risk=risk
    )


def test_a_steady_first_check_in_suggests_no_review() -> None:
    assert reasons() == []


def test_reliable_deterioration_suggests_a_review() -> None:
    assert reasons(WORSE) == ["reliable_deterioration"]


@pytest.mark.parametrize(
    ("earlier", "current", "suggested"),
    [
        ((False,), STEADY, False),  # only two check-ins so far
        ((False, False), STEADY, True),  # three without reliable improvement
        ((True, False), STEADY, False),  # improved within the last three
        ((False, False), BETTER, False),  # improved now
        ((True, False, False), STEADY, True),  # the improvement is older than the last three
    ],
)
def test_three_check_ins_without_reliable_improvement_suggest_a_review(
    earlier: tuple[bool, ...], current: Change, suggested: bool
) -> None:
    assert ("no_reliable_improvement" in reasons(current, earlier)) is suggested


def test_a_goal_reached_for_the_first_time_suggests_a_review() -> None:
    assert reasons(now=["sleep"]) == ["goal_target_reached"]
    assert reasons(now=["sleep"], before=["sleep"]) == []
    assert reasons(now=["sleep", "panic"], before=["sleep"]) == ["goal_target_reached"]


@pytest.mark.parametrize(
    ("risk", "suggested"), [("none", False), ("low", False), ("moderate", True), ("high", True)]
)
def test_an_alerting_risk_screen_suggests_a_review(risk: str, suggested: bool) -> None:
    assert ("elevated_risk" in reasons(risk=RiskLevel(risk))) is suggested


def test_reasons_accumulate_in_a_stable_order() -> None:
    assert reasons(WORSE, (False, False), ["sleep"], (), RiskLevel.high) == [
        "reliable_deterioration",
        "no_reliable_improvement",
        "goal_target_reached",
        "elevated_risk",
    ]


def test_goals_are_reached_by_scores_and_by_progress() -> None:
    goals = [
        PlanGoal("mood", Target("phq9", "below", 5)),
        PlanGoal("worry", Target("gad7", "below", 8)),
        PlanGoal("train", Target("goal_progress", "at_least", 8)),
        PlanGoal("sleep", Target("goal_progress", "at_least", 8)),
        PlanGoal("growth", None),
    ]
    reached = goals_reached(goals, phq9=4, gad7=8, progress={"train": 8, "sleep": 7})
    assert reached == ["mood", "train"]


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        (Target("phq9", "below", 5), None),
        (Target("phq9", "below", 0), "nothing is below 0"),
        (Target("phq9", "below", 28), "0–27"),
        (Target("gad7", "at_least", 22), "0–21"),
        (Target("goal_progress", "at_least", 11), "0–10"),
        (Target("goal_progress", "at_least", 0), None),
    ],
)
def test_a_target_must_be_reachable_on_its_measure(target: Target, problem: str | None) -> None:
    found = target.problem()
    assert (found is None) if problem is None else (found is not None and problem in found)
