"""Crisis resources shown at once with a moderate or high risk screen (DOMAIN.md, US).

Returned in the submit and check-in answers themselves, not left to a later
notification, so the client sees them the moment the screen is positive.
"""

from __future__ import annotations

from typing import Final, TypedDict

from services.intake.domain.risk import ALERTING
from shared.events.common import RiskLevel


class CrisisResource(TypedDict):
    code: str
    name: str
    how: str
    contact: str


CRISIS_RESOURCES: Final[tuple[CrisisResource, ...]] = (
    {
        "code": "988_lifeline",
        "name": "988 Suicide & Crisis Lifeline",
        "how": "Call or text 988 (24/7, free and confidential)",
        "contact": "988",
    },
    {
        "code": "crisis_text_line",
        "name": "Crisis Text Line",
        "how": "Text HOME to 741741",
        "contact": "741741",
    },
    {
        "code": "emergency",
        "name": "Emergency services",
        "how": "Call 911 if you are in immediate danger",
        "contact": "911",
    },
)


def crisis_resources_for(level: RiskLevel) -> list[CrisisResource] | None:
    """The resources to show for a screen at `level`, or None when none are due."""
    if level not in ALERTING:
        return None
    return [CrisisResource(**resource) for resource in CRISIS_RESOURCES]
