"""What an intake holds, validated field by field, and what it needs before submission.

A client fills the intake in at their own pace: every section is optional in a draft,
and each one that is present is validated at once (every bad field named in one answer).
Submission then checks completeness all at once (`submission_problems`): the fields the
`intake-completed` event and the scoring need, and the C-SSRS screener whenever PHQ-9
item 9 is above 0.

Free text (history, goal descriptions) is plain here; `store/intakes.py` seals it
before it reaches the database. Contact details are not part of the intake:
notifications owns them.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from typing import Annotated, Final, Literal
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)

from services.intake.domain.risk import ScreenerAnswers
from services.intake.domain.scoring import GAD7_ITEMS, ITEM_MAX, ITEM_MIN, PHQ9_ITEMS
from shared.care.crisis_resources import SERVED_COUNTRIES, country_of
from shared.events.common import Approach, Code, Concern, Id, Jurisdiction, LanguageTag, PreferredFormat
from shared.refusals import FieldProblem


def _json_number(value: object) -> object:
    # JSON Schema's integer is any number without a fraction (2 and 2.0 alike), and that is
    # what the OpenAPI document promises; a string or a boolean is not a number at all.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a whole number")
    return value


Integer = Annotated[int, BeforeValidator(_json_number)]
"""A whole JSON number: 2 and 2.0 are accepted; 2.5, "2" and true are refused, not coerced."""

# A bounded whole number names its bounds before the validator: pydantic then writes them as
# JSON Schema's `minimum`/`maximum`. Bounds placed after it (on `Integer`) still validate but
# reach the OpenAPI document as pydantic's own `ge`/`le`, which no validator or code
# generator knows (Redocly: "Property `ge` is not expected here").
Item = Annotated[int, Field(ge=ITEM_MIN, le=ITEM_MAX), BeforeValidator(_json_number)]
"""One questionnaire answer, 0–3."""

Price = Annotated[int, Field(ge=0, le=10_000), BeforeValidator(_json_number)]
"""The most a client would pay per session: a whole number, 0–10 000."""

ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
FreeText = Annotated[str, StringConstraints(min_length=1, max_length=4000)]


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _known_time_zone(value: str) -> str:
    # A set lookup, not `ZoneInfo(value)`: that raises IsADirectoryError for "America",
    # which pydantic would not turn into a 422.
    if value not in _time_zones():
        raise ValueError("not an IANA time zone name (e.g. America/New_York)")
    return value


TimeZone = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_known_time_zone)]

DAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Day = Literal[
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "mon", "tue", "wed", "thu", "fri", "sat", "sun",
]  # fmt: skip
LocalTime = Annotated[str, StringConstraints(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]


class Section(BaseModel):
    """Sections refuse unknown fields: a misspelt field is an error, not silently lost."""

    model_config = ConfigDict(extra="forbid")


class History(Section):
    """History and background: sealed at rest as a whole (it is all clinical detail)."""

    prior_therapy: StrictBool | None = None
    diagnoses: list[ShortText] = Field(default_factory=list, max_length=20)
    medications: list[ShortText] = Field(default_factory=list, max_length=20)
    background: FreeText | None = Field(default=None, description="Free text; encrypted at rest")


class Goal(Section):
    code: Code
    kind: Literal["specific_issue", "personal_growth"] = "specific_issue"
    description: FreeText | None = Field(default=None, description="Free text; encrypted at rest")


class Screener(Section):
    """C-SSRS screener: Q3–Q5 are asked when Q2 is yes; Q6 always (ever, and past 3 months)."""

    q1: StrictBool | None = Field(default=None, description="Wish to be dead")
    q2: StrictBool | None = Field(default=None, description="Non-specific active suicidal thoughts")
    q3: StrictBool | None = Field(default=None, description="Thoughts with a method")
    q4: StrictBool | None = Field(default=None, description="Intent without a specific plan")
    q5: StrictBool | None = Field(default=None, description="Specific plan with intent")
    q6_ever: StrictBool | None = Field(default=None, description="Suicidal behaviour, ever")
    q6_recent: StrictBool | None = Field(default=None, description="Suicidal behaviour within 3 months")

    def answers(self) -> ScreenerAnswers:
        return ScreenerAnswers(**self.model_dump())


class Preferences(Section):
    approach: Approach | None = None
    therapist_gender: Literal["female", "male", "nonbinary", "no_preference"] = "no_preference"
    language: LanguageTag | None = None
    competencies: list[Code] = Field(
        default_factory=list, max_length=20, description="Cultural and identity competencies"
    )
    communication_style: Code | None = None
    format: PreferredFormat = PreferredFormat.video
    max_price_per_session: Price | None = None
    insurer: Code | None = None


class Window(Section):
    """A weekly window in the client's own time zone, e.g. Tuesdays 09:00–17:00."""

    day: Day
    start: LocalTime
    end: LocalTime

    @field_validator("day")
    @classmethod
    def _full_day_name(cls, day: str) -> str:
        return next(name for name in DAYS if name.startswith(day))

    @model_validator(mode="after")
    def _start_before_end(self) -> Window:
        if self.start >= self.end:
            raise ValueError("a window's start must be before its end")
        return self


class IntakeSections(Section):
    """Every section of an intake; in a draft each may be absent."""

    jurisdiction: Jurisdiction | None = Field(default=None, description="ISO 3166-2, e.g. US-CA")
    timezone: TimeZone | None = Field(default=None, description="IANA time zone, e.g. America/Los_Angeles")
    languages: list[LanguageTag] | None = Field(default=None, min_length=1, max_length=10)
    concerns: list[Concern] | None = Field(default=None, min_length=1, max_length=14)
    history: History | None = None
    goals: list[Goal] | None = Field(default=None, max_length=20)
    phq9: list[Item] | None = Field(default=None, min_length=PHQ9_ITEMS, max_length=PHQ9_ITEMS)
    gad7: list[Item] | None = Field(default=None, min_length=GAD7_ITEMS, max_length=GAD7_ITEMS)
    cssrs: Screener | None = None
    preferences: Preferences | None = None
    availability: list[Window] | None = Field(default=None, min_length=1, max_length=50)

    @field_validator("concerns", "languages")
    @classmethod
    def _no_repeats(cls, values: list[str] | None) -> list[str] | None:
        if values is not None and len(set(values)) != len(values):
            raise ValueError("each entry may appear once")
        return values

    @field_validator("goals")
    @classmethod
    def _one_entry_per_goal(cls, goals: list[Goal] | None) -> list[Goal] | None:
        if goals is not None and len({goal.code for goal in goals}) != len(goals):
            raise ValueError("each goal code may appear once")
        return goals


class NewIntake(IntakeSections):
    """A new draft: whose it is, and any sections already filled in."""

    client_id: Id


REQUIRED_FOR_SUBMISSION: Final = (
    "jurisdiction",
    "timezone",
    "languages",
    "concerns",
    "phq9",
    "gad7",
    "availability",
)


def submission_problems(
    sections: IntakeSections, *, served: Collection[str] = SERVED_COUNTRIES
) -> list[FieldProblem]:
    """Everything missing or unservable before an intake can be scored and published, all at once."""
    problems = [
        FieldProblem(name, "required to submit the intake")
        for name in REQUIRED_FOR_SUBMISSION
        if getattr(sections, name) is None
    ]
    if sections.jurisdiction is not None and (problem := jurisdiction_problem(sections.jurisdiction, served)):
        problems.append(problem)
    if sections.phq9 is not None:
        problems += screener_problems(sections.phq9, sections.cssrs, field="cssrs")
    return problems


def jurisdiction_problem(jurisdiction: str, served: Collection[str]) -> FieldProblem | None:
    """A client is accepted only from a country Carepath serves.

    Matching needs therapists licensed there, and a positive screen needs that country's
    crisis lines: a client from elsewhere would be matched to nobody and shown the wrong
    numbers, so the intake is refused before anything is published.
    """
    country = country_of(jurisdiction)
    if country in served:
        return None
    return FieldProblem("jurisdiction", f"Carepath does not serve clients in {country} yet")


def screener_problems(phq9: list[int], screener: Screener | None, *, field: str) -> list[FieldProblem]:
    """The C-SSRS screener is required, and complete, whenever PHQ-9 item 9 is above 0.

    Complete means Q1, Q2 and Q6 (ever) answered, Q3–Q5 when Q2 is yes, and Q6 (past 3
    months) when Q6 (ever) is yes. With item 9 at 0 a screener is optional.
    """
    if len(phq9) != PHQ9_ITEMS or phq9[8] == 0:
        return []
    why = "required when PHQ-9 item 9 is above 0"
    if screener is None:
        return [FieldProblem(field, why)]
    needed = ["q1", "q2", "q6_ever"]
    if screener.q2:
        needed += ["q3", "q4", "q5"]
    if screener.q6_ever:
        needed.append("q6_recent")
    return [
        FieldProblem(f"{field}.{question}", why)
        for question in sorted(needed)
        if getattr(screener, question) is None
    ]
