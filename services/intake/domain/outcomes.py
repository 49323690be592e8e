"""Change at a check-in against the intake baseline (DOMAIN.md, measurement-based care).

- Reliable change: PHQ-9 moves by 6 or more, GAD-7 by 4 or more (NHS Talking Therapies'
  reliable change indices).
- Reliable deterioration: either measure rises reliably. Improvement: either measure
  drops reliably while neither rises reliably. A mixed picture (one reliably better, the
  other reliably worse) therefore counts as deterioration, not as improvement: the
  therapist is to be alerted whenever a measure got reliably worse, so safety wins over
  the NHS convention of calling a mixed picture "no reliable change".
- Response: PHQ-9 down by at least half of its baseline (needs a baseline above 0).
- Remission: PHQ-9 below 5 now.
- Recovery: the baseline was a case (PHQ-9 ≥ 10 or GAD-7 ≥ 8) and now neither is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

PHQ9_RELIABLE_CHANGE: Final = 6
GAD7_RELIABLE_CHANGE: Final = 4
PHQ9_REMISSION_BELOW: Final = 5
PHQ9_CASENESS: Final = 10
GAD7_CASENESS: Final = 8


@dataclass(frozen=True, slots=True)
class Measures:
    """PHQ-9 and GAD-7 totals at one point in time."""

    phq9: int
    gad7: int

    @property
    def is_case(self) -> bool:
        return self.phq9 >= PHQ9_CASENESS or self.gad7 >= GAD7_CASENESS


@dataclass(frozen=True, slots=True)
class Change:
    phq9_delta: int
    """Current minus baseline: negative is better."""
    gad7_delta: int
    reliable_improvement: bool
    reliable_deterioration: bool
    response: bool
    remission: bool
    recovery: bool


def measure_change(baseline: Measures, current: Measures) -> Change:
    phq9_delta = current.phq9 - baseline.phq9
    gad7_delta = current.gad7 - baseline.gad7
    worse = phq9_delta >= PHQ9_RELIABLE_CHANGE or gad7_delta >= GAD7_RELIABLE_CHANGE
    better = phq9_delta <= -PHQ9_RELIABLE_CHANGE or gad7_delta <= -GAD7_RELIABLE_CHANGE
    return Change(
        phq9_delta=phq9_delta,
        gad7_delta=gad7_delta,
        reliable_improvement=better and not worse,
        reliable_deterioration=worse,
        # Integer form of (baseline - current) / baseline >= 0.5, without rounding.
        response=baseline.phq9 > 0 and 2 * (baseline.phq9 - current.phq9) >= baseline.phq9,
        remission=current.phq9 < PHQ9_REMISSION_BELOW,
        recovery=baseline.is_case and not current.is_case,
    )
