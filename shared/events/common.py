"""Value types shared by several events: codes, scores, bands and time windows.

Events carry only the minimum necessary (DESIGN §3): ids, codes, scores, bands,
preferences and time windows. Nothing here can hold free text, names or contact data;
every string is a constrained code or id.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
"""What an id looks like, here and in every route's path parameters."""

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
"""An opaque identifier (UUIDs, ULIDs, prefixed ids); never a name or an e-mail address."""

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
"""A machine code such as a reason (`no_slot_in_availability`); never prose."""

LanguageTag = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]
"""A BCP 47 language tag restricted to language and optional region, e.g. `en`, `es-MX`."""

Jurisdiction = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")]
"""ISO 3166-1 country or ISO 3166-2 subdivision where the client lives (licensure), e.g. `US-CA`."""


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # "America" is a directory
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


TimeZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_check_timezone)]
"""An IANA time zone name such as `America/New_York`."""


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a UTC offset")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_require_utc)]
"""A timestamp with an offset; naive datetimes are refused because they are ambiguous."""


class EventData(BaseModel):
    """Base of every event's data: strict about unknown fields' types, tolerant of new ones.

    Extra fields are ignored rather than refused so a producer can add fields in a
    backward-compatible change without breaking older consumers (DESIGN §3).
    """

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)


class Concern(StrEnum):
    """Intake concern codes (DOMAIN.md)."""

    stress = "stress"
    anxiety = "anxiety"
    depression = "depression"
    trauma = "trauma"
    grief_loss = "grief_loss"
    life_transition = "life_transition"
    relationships = "relationships"
    personal_growth = "personal_growth"
    ocd = "ocd"
    ptsd = "ptsd"
    substance_use = "substance_use"
    disordered_eating = "disordered_eating"
    somatic = "somatic"
    career_change = "career_change"


class Approach(StrEnum):
    """Therapy approaches matching knows how to weigh (DOMAIN.md)."""

    cbt = "cbt"
    act = "act"
    psychodynamic = "psychodynamic"
    solution_focused = "solution_focused"
    integrative = "integrative"


class RiskLevel(StrEnum):
    """C-SSRS screener tiers (DOMAIN.md)."""

    none = "none"
    low = "low"
    moderate = "moderate"
    high = "high"


class SessionFormat(StrEnum):
    video = "video"
    phone = "phone"
    chat = "chat"
    in_person = "in_person"


Phq9Severity = Literal["minimal", "mild", "moderate", "moderately_severe", "severe"]
Gad7Severity = Literal["minimal", "mild", "moderate", "severe"]
Instrument = Literal["phq9", "gad7", "cssrs"]


class Phq9Summary(EventData):
    """PHQ-9 total (0–27), its severity band and item 9 (self-harm thoughts, 0–3)."""

    total: int = Field(ge=0, le=27)
    severity: Phq9Severity
    item9: int = Field(ge=0, le=3)


class Gad7Summary(EventData):
    """GAD-7 total (0–21) and its severity band."""

    total: int = Field(ge=0, le=21)
    severity: Gad7Severity


class Weekday(StrEnum):
    mon = "mon"
    tue = "tue"
    wed = "wed"
    thu = "thu"
    fri = "fri"
    sat = "sat"
    sun = "sun"


_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


def _check_hhmm(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError("expected a 24-hour time HH:MM (00:00–24:00)")
    return value


ClockTime = Annotated[str, AfterValidator(_check_hhmm)]


class WeeklyWindow(EventData):
    """A recurring weekly window of local time, e.g. Tuesdays 18:00–21:00 in the owner's zone."""

    day: Weekday
    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _start_before_end(self) -> WeeklyWindow:
        if self.start >= self.end:
            raise ValueError("window start must be before its end")
        return self


class PreferredFormat(StrEnum):
    """How the client wants to meet: `either` accepts video or in person."""

    video = "video"
    in_person = "in_person"
    either = "either"


class Preferences(EventData):
    """What the client asked for in a therapist, as codes (used to filter and rank)."""

    approach: Approach | None = None
    therapist_gender: Literal["female", "male", "nonbinary", "no_preference"] = "no_preference"
    language: LanguageTag | None = None
    competencies: list[Code] = Field(default_factory=list, max_length=20)
    communication_style: Code | None = None
    format: PreferredFormat = PreferredFormat.video
    max_price_per_session: int | None = Field(default=None, ge=0, le=10_000)
    insurer: Code | None = None


class Candidate(EventData):
    """One proposed therapist: rank 1 is the best fit.

    `factors` is the score's breakdown (factor code -> its weighted part); `reasons` are
    codes a UI turns into sentences ("specialises in your main concern").
    """

    therapist_id: Id
    rank: int = Field(ge=1, le=50)
    score: float = Field(ge=0.0, le=1.0)
    factors: dict[Code, float] = Field(default_factory=dict, max_length=20)
    reasons: list[Code] = Field(default_factory=list, max_length=20)
    session_format: SessionFormat | None = None
    """How this therapist would meet the client; with `either` a proposal may mix formats."""


class PlanStatus(StrEnum):
    """A treatment plan's state: `completed` ends care (future sessions and check-ins stop)."""

    active = "active"
    paused = "paused"
    completed = "completed"


class SessionCadence(StrEnum):
    weekly = "weekly"
    biweekly = "biweekly"
    every_4_weeks = "every_4_weeks"


class OutcomeChange(EventData):
    """Change against the intake baseline (DOMAIN.md, measurement-based care)."""

    phq9_delta: int = Field(ge=-27, le=27)
    gad7_delta: int = Field(ge=-21, le=21)
    reliable_improvement: bool
    reliable_deterioration: bool
    response: bool
    remission: bool
    recovery: bool = False
