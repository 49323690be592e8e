"""Crisis resources shown at once with a moderate or high risk screen, where the client lives.

Returned in the submit and check-in answers themselves, not left to a later
notification, so the client sees them the moment the screen is positive. Which lines
and in which language come from the one shared table (`shared.care.crisis_resources`),
so the answer on screen and the message notifications sends agree: the country of the
intake's jurisdiction, Spanish text when the client's first language is Spanish.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from services.intake.domain.risk import ALERTING
from shared.care.crisis_resources import crisis_resources
from shared.events.common import RiskLevel


@dataclass(frozen=True, slots=True)
class Whereabouts:
    """Where the client lives and what they read, as their latest intake says."""

    jurisdiction: str | None = None
    languages: tuple[str, ...] = ()

    @classmethod
    def of(cls, jurisdiction: str | None, languages: Sequence[str] | None) -> Whereabouts:
        return cls(jurisdiction, tuple(languages or ()))

    @property
    def language(self) -> str | None:
        """The first language, the one `risk-flagged` names."""
        return self.languages[0] if self.languages else None


def crisis_resources_for(level: RiskLevel, where: Whereabouts) -> list[dict[str, Any]] | None:
    """The resources to show for a screen at `level`, or None when none are due."""
    if level not in ALERTING:
        return None
    return [asdict(resource) for resource in crisis_resources(where.jurisdiction, where.languages)]
