"""A therapist's clinical profile as an admin writes it (`PUT /v1/therapists/{id}`).

Validated strictly: unknown fields are refused (a typo would otherwise silently drop a
constraint), every string is a code, tag or id, and the lists are bounded. The caseload is
not here on purpose: it is derived from bookings, cancellations and switches, never typed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from shared.events.common import Approach, Code, Concern, Jurisdiction, LanguageTag, TimeZoneName

Gender = Literal["female", "male", "nonbinary", "undisclosed"]
MeetingFormat = Literal["video", "in_person"]
CredentialCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


class Specialty(BaseModel):
    """A concern the therapist specialises in, with years of experience in it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    concern: Concern
    years: int = Field(ge=0, le=60)


class TherapistProfile(BaseModel):
    """What clients weigh (DOMAIN.md) and what the hard filters check, as codes and numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    gender: Gender
    languages: list[LanguageTag] = Field(min_length=1, max_length=20, description="BCP 47 tags, e.g. `es-MX`")
    licensed_jurisdictions: list[Jurisdiction] = Field(
        min_length=1, max_length=60, description="ISO 3166-2 (`US-CA`), or a whole country (`NL`)"
    )
    credentials: list[CredentialCode] = Field(default_factory=list, max_length=20)
    specialties: list[Specialty] = Field(default_factory=list, max_length=14)
    approaches: list[Approach] = Field(min_length=1, max_length=5)
    competencies: list[Code] = Field(
        default_factory=list, max_length=20, description="cultural and identity competencies, self-identified"
    )
    communication_style: Code | None = None
    formats: list[MeetingFormat] = Field(min_length=1, max_length=2)
    in_person_regions: list[Jurisdiction] = Field(default_factory=list, max_length=60, validate_default=True)
    price_per_session: int = Field(ge=0, le=10_000, description="same currency unit as the client's budget")
    insurers: list[Code] = Field(default_factory=list, max_length=50)
    accepting_new_clients: bool = True
    capacity: int = Field(ge=0, le=500, description="how many clients the therapist can see at once")
    high_acuity: bool = Field(default=False, description="qualified for clients at moderate or high risk")
    timezone: TimeZoneName

    # Field validators (not a model validator) so a refusal names its field: body.specialties.
    @field_validator("specialties")
    @classmethod
    def _one_entry_per_concern(cls, specialties: list[Specialty]) -> list[Specialty]:
        concerns = [specialty.concern for specialty in specialties]
        if len(set(concerns)) != len(concerns):
            raise ValueError("each concern may appear once")
        return specialties

    @field_validator("in_person_regions")
    @classmethod
    def _regions_for_in_person(cls, regions: list[Jurisdiction], info: ValidationInfo) -> list[Jurisdiction]:
        if "in_person" in (info.data.get("formats") or ()) and not regions:
            raise ValueError("required when formats include in_person")
        return regions
