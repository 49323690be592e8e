"""PHQ-9 and GAD-7 totals and severity bands (DOMAIN.md; Kroenke 2001, Spitzer 2006).

Each item is scored 0–3 over the last two weeks. The bands are inclusive ranges of the
total; they are kept as data so the table-driven tests and the code read the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from shared.events.common import Gad7Severity, Phq9Severity

PHQ9_ITEMS: Final = 9
GAD7_ITEMS: Final = 7
ITEM_MIN: Final = 0
ITEM_MAX: Final = 3

PHQ9_BANDS: Final[tuple[tuple[int, int, Phq9Severity], ...]] = (
    (0, 4, "minimal"),
    (5, 9, "mild"),
    (10, 14, "moderate"),
    (15, 19, "moderately_severe"),
    (20, 27, "severe"),
)

GAD7_BANDS: Final[tuple[tuple[int, int, Gad7Severity], ...]] = (
    (0, 4, "minimal"),
    (5, 9, "mild"),
    (10, 14, "moderate"),
    (15, 21, "severe"),
)


@dataclass(frozen=True, slots=True)
class Phq9Score:
    total: int
    severity: Phq9Severity
    item9: int
    """Thoughts of being better off dead or of self-harm: above 0 asks for the C-SSRS screener."""

    @property
    def needs_screener(self) -> bool:
        return self.item9 > 0


@dataclass(frozen=True, slots=True)
class Gad7Score:
    total: int
    severity: Gad7Severity


def phq9_severity(total: int) -> Phq9Severity:
    for low, high, severity in PHQ9_BANDS:
        if low <= total <= high:
            return severity
    raise ValueError(f"a PHQ-9 total is 0–27, not {total}")


def gad7_severity(total: int) -> Gad7Severity:
    for low, high, severity in GAD7_BANDS:
        if low <= total <= high:
            return severity
    raise ValueError(f"a GAD-7 total is 0–21, not {total}")


def score_phq9(items: Sequence[int]) -> Phq9Score:
    total = _total(items, PHQ9_ITEMS, "PHQ-9")
    return Phq9Score(total=total, severity=phq9_severity(total), item9=items[8])


def score_gad7(items: Sequence[int]) -> Gad7Score:
    total = _total(items, GAD7_ITEMS, "GAD-7")
    return Gad7Score(total=total, severity=gad7_severity(total))


def screener_required(phq9_items: Sequence[int]) -> bool:
    """Item 9 above 0 triggers the risk follow-up whatever the total (DOMAIN.md)."""
    return len(phq9_items) == PHQ9_ITEMS and phq9_items[8] > 0


def _total(items: Sequence[int], count: int, name: str) -> int:
    if len(items) != count:
        raise ValueError(f"{name} has {count} items, not {len(items)}")
    if any(not ITEM_MIN <= item <= ITEM_MAX for item in items):
        raise ValueError(f"{name} items are scored {ITEM_MIN}–{ITEM_MAX}")
    return sum(items)
