"""The risk screen: PHQ-9 item 9 and the C-SSRS screener give a tier (DOMAIN.md).

Tiers, highest first:
- high: Q4 (intent) or Q5 (plan with intent) yes, or suicidal behaviour (Q6) within 3 months;
- moderate: Q3 (thoughts with a method) yes, or Q6 yes but longer than 3 months ago;
- low: Q1 (wish to be dead) or Q2 (active thoughts) yes only, or item 9 > 0 with every
  screener answer no;
- none: otherwise.

Inconsistent answers are resolved towards safety, never discarded. The screener asks
Q3–Q5 only when Q2 is yes; a client who still answers yes to one of them with Q2 no (a
form that skipped the branching, a mis-tap) has told us about a method, intent or plan,
and a risk screen must not discount that, so such a yes counts as given. Likewise
"behaviour within 3 months" counts even when "ever" was left no: recent implies ever.
The screener being incomplete is a validation matter (see `intake.py`); here an
unanswered question counts as no.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.events.common import RiskLevel

ITEM9_POSITIVE = "phq9_item9_positive"
WISH_TO_BE_DEAD = "cssrs_wish_to_be_dead"
SUICIDAL_THOUGHTS = "cssrs_suicidal_thoughts"
THOUGHTS_WITH_METHOD = "cssrs_thoughts_with_method"
INTENT = "cssrs_intent_without_plan"
PLAN_WITH_INTENT = "cssrs_plan_with_intent"
BEHAVIOUR_RECENT = "cssrs_behaviour_past_3_months"
BEHAVIOUR_PAST = "cssrs_behaviour_lifetime"

ALERTING = frozenset({RiskLevel.moderate, RiskLevel.high})
"""Tiers that publish `risk-flagged` and show crisis resources at once."""


@dataclass(frozen=True, slots=True)
class ScreenerAnswers:
    """C-SSRS screener answers; None is unanswered."""

    q1: bool | None = None
    q2: bool | None = None
    q3: bool | None = None
    q4: bool | None = None
    q5: bool | None = None
    q6_ever: bool | None = None
    q6_recent: bool | None = None


@dataclass(frozen=True, slots=True)
class RiskScreen:
    level: RiskLevel
    reasons: tuple[str, ...]
    """Codes of every positive answer, in question order (never the answers themselves)."""

    @property
    def alerting(self) -> bool:
        return self.level in ALERTING


def screen_risk(item9: int, screener: ScreenerAnswers | None) -> RiskScreen:
    answers = screener or ScreenerAnswers()
    recent_behaviour = bool(answers.q6_recent)
    past_behaviour = bool(answers.q6_ever) and not recent_behaviour
    positives = [
        (item9 > 0, ITEM9_POSITIVE),
        (bool(answers.q1), WISH_TO_BE_DEAD),
        (bool(answers.q2), SUICIDAL_THOUGHTS),
        (bool(answers.q3), THOUGHTS_WITH_METHOD),
        (bool(answers.q4), INTENT),
        (bool(answers.q5), PLAN_WITH_INTENT),
        (recent_behaviour, BEHAVIOUR_RECENT),
        (past_behaviour, BEHAVIOUR_PAST),
    ]
    reasons = tuple(code for positive, code in positives if positive)
    if answers.q4 or answers.q5 or recent_behaviour:
        level = RiskLevel.high
    elif answers.q3 or past_behaviour:
        level = RiskLevel.moderate
    elif reasons:  # Q1 or Q2 yes only, or item 9 > 0 with every screener answer no
        level = RiskLevel.low
    else:
        level = RiskLevel.none
    return RiskScreen(level=level, reasons=reasons)
