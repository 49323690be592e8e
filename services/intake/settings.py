"""The intake service's settings: everything of `ServiceSettings`, read under `INTAKE_`."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.care.crisis_resources import SERVED_COUNTRIES, has_resources
from shared.settings import ServiceSettings, TextList


class IntakeSettings(ServiceSettings):
    """`INTAKE_HTTP_PORT` (8001 under `make run`), `INTAKE_MONGODB_DATABASE` (`carepath_intake`), ...

    Free text is encrypted with `FIELD_ENCRYPTION_KEYS` / `FIELD_ENCRYPTION_ACTIVE_KEY`
    (read without prefix, like every infrastructure setting).

    Intake's own knobs: which countries it accepts intakes from (each must have its crisis
    resources, or the service refuses to start: a client there with a positive screen
    would otherwise be shown another country's numbers), how long a check-in stays open
    after it fell due before it expires as missed, and break-glass: who is on call
    (`INTAKE_ON_CALL_ROTA`, the same therapist ids as `NOTIFICATIONS_ON_CALL_ROTA`; empty:
    no break-glass), how recent a risk flag opens it and how long a grant lasts.
    """

    service_name: ClassVar[str] = "intake"
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    # ISO 3166-1 codes, a JSON list or comma-separated: `US,CA,GB`.
    served_countries: TextList = Field(default_factory=lambda: list(SERVED_COUNTRIES), min_length=1)
    # Domain days after `due_at` (fractions allowed, e.g. for tests): then the check-in is missed.
    check_in_expiry_days: float = Field(default=7.0, gt=0, le=90)
    # Therapist ids, a JSON list or comma-separated: the clinicians who may break the glass.
    on_call_rota: TextList = Field(default_factory=list)
    # How long a break-glass grant lasts, and how recent the client's risk flag must be.
    break_glass_hours: float = Field(default=4.0, gt=0, le=24)
    break_glass_risk_window_hours: float = Field(default=72.0, gt=0, le=24 * 30)

    @field_validator("served_countries")
    @classmethod
    def _every_country_has_crisis_resources(cls, countries: list[str]) -> list[str]:
        normalised = [country.upper() for country in countries]
        if missing := [country for country in normalised if not has_resources(country)]:
            raise ValueError(
                f"no crisis resources for {', '.join(missing)}: add their row to "
                "shared/care/crisis_resources.py before serving clients there"
            )
        return normalised
