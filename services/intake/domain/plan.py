"""The treatment plan's measurable goals and when a check-in suggests reviewing the plan.

A goal's target is a measure and a threshold: "PHQ-9 below 5", "GAD-7 below 8", or
"progress at least 8" on the 0–10 scale the client rates the goal on at each check-in.

A check-in suggests a review (DOMAIN.md: feedback helps most for clients not on track)
when the client reliably deteriorated, when the last three check-ins all showed no
reliable improvement, when a goal's target was reached that was not reached at the
previous check-in (time to set the next goal), or when the risk screen is moderate or
high. Each reason is a code in `check-in-completed`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from services.intake.domain.outcomes import Change
from services.intake.domain.risk import ALERTING
from shared.events.common import RiskLevel

Measure = Literal["phq9", "gad7", "goal_progress"]
Comparison = Literal["below", "at_least"]

MEASURE_RANGES: Final[Mapping[str, tuple[int, int]]] = {
    "phq9": (0, 27),
    "gad7": (0, 21),
    "goal_progress": (0, 10),
}

RELIABLE_DETERIORATION: Final = "reliable_deterioration"
NO_RELIABLE_IMPROVEMENT: Final = "no_reliable_improvement"
GOAL_TARGET_REACHED: Final = "goal_target_reached"
ELEVATED_RISK: Final = "elevated_risk"
CHECK_INS_TO_IMPROVE: Final = 3
"""Check-ins in a row without reliable improvement before a review is suggested."""


@dataclass(frozen=True, slots=True)
class Target:
    measure: Measure
    comparison: Comparison
    value: int

    def problem(self) -> str | None:
        """Why this target can never be judged or reached, or None when it is sound."""
        low, high = MEASURE_RANGES[self.measure]
        if not low <= self.value <= high:
            return f"a {self.measure} target lies within {low}–{high}"
        if self.comparison == "below" and self.value == low:
            return f"nothing is below {low} on {self.measure}"
        return None

    def reached(self, score: int) -> bool:
        return score < self.value if self.comparison == "below" else score >= self.value


DEFAULT_TARGET: Final = Target(measure="goal_progress", comparison="at_least", value=7)
"""Where a goal the client set at intake starts: rated 7 of 10 or more at a check-in.

The client's own rating of their own goal is the one measure every goal has; the
therapist sharpens it (a PHQ-9 or GAD-7 threshold, another value) when they set the plan
together.
"""


@dataclass(frozen=True, slots=True)
class PlanGoal:
    code: str
    target: Target | None


def goals_reached(
    goals: Sequence[PlanGoal], *, phq9: int, gad7: int, progress: Mapping[str, int]
) -> list[str]:
    """Codes of the goals whose target the check-in's scores meet, in plan order."""
    reached: list[str] = []
    for goal in goals:
        if goal.target is None:
            continue
        measure = goal.target.measure
        score = progress.get(goal.code) if measure == "goal_progress" else phq9 if measure == "phq9" else gad7
        if score is not None and goal.target.reached(score):
            reached.append(goal.code)
    return reached


def review_reasons(
    change: Change,
    *,
    earlier_improvements: Sequence[bool],
    goals_reached_now: Sequence[str],
    goals_reached_before: Sequence[str],
    risk: RiskLevel,
) -> list[str]:
    """Why the plan should be reviewed after this check-in (empty: stay the course).

    `earlier_improvements` says, oldest first, whether each earlier completed check-in
    showed reliable improvement; `goals_reached_before` are those of the previous one.
    """
    reasons: list[str] = []
    if change.reliable_deterioration:
        reasons.append(RELIABLE_DETERIORATION)
    recent = [*earlier_improvements, change.reliable_improvement][-CHECK_INS_TO_IMPROVE:]
    if len(recent) == CHECK_INS_TO_IMPROVE and not any(recent):
        reasons.append(NO_RELIABLE_IMPROVEMENT)
    if set(goals_reached_now) - set(goals_reached_before):
        reasons.append(GOAL_TARGET_REACHED)
    if risk in ALERTING:
        reasons.append(ELEVATED_RISK)
    return reasons
