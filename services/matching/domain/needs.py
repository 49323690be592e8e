"""What a client needs from a therapist, read once from their intake.

Decisions the intake leaves open, made here once:

- Required language: the client's `preferences.language` when they named one (they asked
  for sessions in it); otherwise any of the languages they gave at intake will do.
- Region for in-person sessions: the client's jurisdiction (ISO 3166-2, `US-CA`); a
  therapist whose `in_person_regions` names it, or its whole country (`US`), meets there.
- Money: with a budget, a price within it passes; with an insurer, a therapist who takes it
  passes; a client who gave neither is not filtered on money.
- Acuity: moderate or high risk needs a therapist qualified for high acuity.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.matching.domain.availability import Window
from services.matching.domain.therapist import country_of, languages_of
from shared.events.models import IntakeCompleted

HIGH_ACUITY_RISKS = frozenset({"moderate", "high"})


@dataclass(frozen=True, slots=True)
class ClientNeeds:
    client_id: str
    jurisdiction: str
    languages: frozenset[str]
    format: str
    max_price: int | None
    insurer: str | None
    risk_level: str
    concerns: tuple[str, ...]
    phq9_total: int
    gad7_total: int
    preferred_approach: str | None
    preferred_gender: str | None
    competencies: frozenset[str]
    communication_style: str | None
    timezone: str
    availability: tuple[Window, ...]

    @property
    def country(self) -> str:
        return country_of(self.jurisdiction)

    @property
    def needs_high_acuity(self) -> bool:
        return self.risk_level in HIGH_ACUITY_RISKS

    @classmethod
    def from_intake(cls, intake: IntakeCompleted) -> ClientNeeds:
        preferences = intake.preferences
        required = [preferences.language] if preferences.language else list(intake.languages)
        gender = preferences.therapist_gender
        return cls(
            client_id=intake.client_id,
            jurisdiction=intake.jurisdiction,
            languages=languages_of(required),
            format=preferences.format.value,
            max_price=preferences.max_price_per_session,
            insurer=preferences.insurer,
            risk_level=intake.risk_level.value,
            concerns=tuple(dict.fromkeys(concern.value for concern in intake.concerns)),
            phq9_total=intake.phq9.total,
            gad7_total=intake.gad7.total,
            preferred_approach=preferences.approach.value if preferences.approach else None,
            preferred_gender=None if gender == "no_preference" else gender,
            competencies=frozenset(preferences.competencies),
            communication_style=preferences.communication_style,
            timezone=intake.timezone,
            availability=tuple((w.day.value, w.start, w.end) for w in intake.availability),
        )
