"""The data of every Carepath event (DESIGN §3), one pydantic model per event type.

Each model is the JSON value of a Kafka record; the CloudEvents attributes travel in
headers (see `envelope.py`). Required fields are those of DESIGN §3; the extra fields
are what a consumer of that event needs to act without reading another service's
database. Names, contact details, answers and notes never appear here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .common import (
    Approach,
    AwareDatetime,
    Candidate,
    Code,
    Concern,
    EventData,
    Gad7Summary,
    Id,
    Instrument,
    Jurisdiction,
    LanguageTag,
    OutcomeChange,
    Phq9Summary,
    PlanStatus,
    Preferences,
    RiskLevel,
    SessionCadence,
    SessionFormat,
    TimeZoneName,
    WeeklyWindow,
)

Actor = Literal["client", "clinician", "admin", "system"]
"""Who did something: the client, a clinician, an admin, or the system on its own."""


# --- produced by intake -------------------------------------------------------------


class IntakeCompleted(EventData):
    """A client submitted their intake; it was scored and screened."""

    intake_id: Id
    client_id: Id
    submitted_at: AwareDatetime
    jurisdiction: Jurisdiction
    timezone: TimeZoneName
    languages: list[LanguageTag] = Field(min_length=1, max_length=10)
    concerns: list[Concern] = Field(min_length=1, max_length=14)
    goals: list[Code] = Field(default_factory=list, max_length=20)
    phq9: Phq9Summary
    gad7: Gad7Summary
    risk_level: RiskLevel
    preferences: Preferences
    availability: list[WeeklyWindow] = Field(min_length=1, max_length=50)
    entered_on_behalf_by: Id | None = Field(
        default=None,
        description="The clinician who entered answers for the client (an on-behalf entry); "
        "null when the client entered them",
    )


class RiskFlagged(EventData):
    """A positive risk screen at intake or at a check-in: act at once (DOMAIN.md).

    `jurisdiction` and `language` say where the client lives and how they read, so the
    on-call page names the country and the client's crisis resources fit it.
    """

    intake_id: Id | None = None
    check_in_id: Id | None = None
    client_id: Id
    therapist_id: Id | None = None
    risk_level: RiskLevel
    reasons: list[Code] = Field(min_length=1, max_length=20)
    flagged_at: AwareDatetime
    jurisdiction: Jurisdiction | None = None
    language: LanguageTag | None = None

    @model_validator(mode="after")
    def _names_its_source(self) -> RiskFlagged:
        if not (self.intake_id or self.check_in_id):
            raise ValueError("risk-flagged needs intake_id or check_in_id")
        return self


class CheckInCompleted(EventData):
    """A client answered a check-in; change is measured against the intake baseline.

    `plan_review_suggested` asks the therapist to adjust the plan, for the coded reasons.
    """

    check_in_id: Id
    client_id: Id
    therapist_id: Id
    completed_at: AwareDatetime
    phq9: Phq9Summary
    gad7: Gad7Summary
    risk_level: RiskLevel = RiskLevel.none
    concerns: list[Concern] = Field(default_factory=list, max_length=14)
    change: OutcomeChange
    plan_review_suggested: bool = False
    review_reasons: list[Code] = Field(default_factory=list, max_length=10)
    goals_reached: list[Code] = Field(default_factory=list, max_length=20)
    entered_on_behalf_by: Id | None = Field(
        default=None,
        description="The clinician who entered the answers for the client (an on-behalf entry); "
        "null when the client answered",
    )


class CheckInMissed(EventData):
    """A check-in went unanswered past its window: it expired as missed.

    `consecutive_missed` counts this one and the misses right before it, so a therapist
    can be prompted when a client keeps missing them.
    """

    check_in_id: Id
    client_id: Id
    therapist_id: Id
    due_at: AwareDatetime
    missed_at: AwareDatetime
    consecutive_missed: int = Field(ge=1, le=1000)


class TreatmentPlanUpdated(EventData):
    """A new version of a client's treatment plan (codes and numbers only, never its text)."""

    client_id: Id
    therapist_id: Id
    version: int = Field(ge=1)
    status: PlanStatus
    approach: Approach
    session_cadence: SessionCadence
    check_in_interval_days: int = Field(ge=1, le=90)
    goals: list[Code] = Field(default_factory=list, max_length=20)
    review_at: AwareDatetime | None = None
    updated_at: AwareDatetime


# --- produced by matching -----------------------------------------------------------


class MatchProposed(EventData):
    """Ranked therapists for a client, with reasons, and what scheduling needs to book.

    No candidates is a valid proposal: `reasons` then names the constraint that emptied it.
    """

    match_id: Id
    client_id: Id
    intake_id: Id
    candidates: list[Candidate] = Field(default_factory=list, max_length=20)
    reasons: list[Code] = Field(default_factory=list, max_length=20)
    expires_at: AwareDatetime
    timezone: TimeZoneName | None = None
    availability: list[WeeklyWindow] = Field(default_factory=list, max_length=50)
    session_format: SessionFormat = SessionFormat.video
    risk_level: RiskLevel = RiskLevel.none
    origin: Code | None = None
    """Why this proposal was made: `intake`, `decline`, `switch`, `booking_failed`,
    `expired` (the one before lapsed unanswered) or `waitlist` (a therapist freed up)."""
    predecessor_match_id: Id | None = None
    waitlisted: bool = False
    """No candidates: the client waits on the waitlist and is re-matched, oldest first,
    when a therapist's availability or capacity changes."""


class MatchAccepted(EventData):
    match_id: Id
    client_id: Id
    therapist_id: Id
    accepted_at: AwareDatetime


class MatchDeclined(EventData):
    match_id: Id
    client_id: Id
    therapist_id: Id | None = None
    reason: Code = "client_declined"
    declined_at: AwareDatetime


# --- produced by scheduling ---------------------------------------------------------


class SessionBooked(EventData):
    """A session is booked: when (UTC, and the client's zone), with whom, in which format.

    `join_url` is the session's own video room, whatever its `format`: v1 requires it, so a
    phone, chat or in-person session carries one too, which is not how it is attended. Show
    it as a way to join only when `format` is `video`, as Carepath's calendar feeds and
    messages do.
    """

    session_id: Id
    client_id: Id
    therapist_id: Id
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    timezone: TimeZoneName
    format: SessionFormat
    series_id: Id
    sequence: int = Field(ge=1)
    join_url: str = Field(max_length=512, pattern=r"^https://")
    match_id: Id | None = None
    # The first meeting with a therapist is an introduction; the recurring series is therapy.
    kind: Literal["introduction", "therapy"] | None = None
    booked_by: Actor | None = None
    """Who booked: `client` (picked a slot), `clinician`, `admin` or `system` (a proposal
    booked at once, a series occurrence). A client's own booking of a proposed therapist
    is their choice of that therapist (matching records it as `match-accepted`)."""

    @model_validator(mode="after")
    def _ends_after_start(self) -> SessionBooked:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class SessionRescheduled(EventData):
    session_id: Id
    client_id: Id
    therapist_id: Id
    series_id: Id
    sequence: int = Field(ge=1)
    previous_starts_at: AwareDatetime
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    timezone: TimeZoneName
    format: SessionFormat
    rescheduled_by: Literal["client", "clinician", "system"]


class SessionCancelled(EventData):
    session_id: Id
    client_id: Id
    therapist_id: Id
    series_id: Id
    sequence: int = Field(ge=1)
    starts_at: AwareDatetime
    cancelled_at: AwareDatetime
    status: Literal["cancelled", "late_cancelled", "clinician_cancelled"]
    cancelled_by: Literal["client", "clinician", "system"]
    reason: Code | None = None


class SessionAttendanceRecorded(EventData):
    """The therapist (or an admin) recorded whether a session took place.

    A `held` introduction starts care (the therapist may then write the plan); a `no_show`
    introduction does not, and `offered_slots` lists the therapist's next free starts in
    the client's windows for the client to pick from.
    """

    session_id: Id
    client_id: Id
    therapist_id: Id
    series_id: Id
    sequence: int = Field(ge=1)
    kind: Literal["introduction", "therapy"]
    attendance: Literal["held", "no_show"]
    starts_at: AwareDatetime
    recorded_at: AwareDatetime
    recorded_by: Actor
    match_id: Id | None = None
    offered_slots: list[AwareDatetime] = Field(default_factory=list, max_length=10)


class BookingFailed(EventData):
    match_id: Id
    client_id: Id
    intake_id: Id | None = None
    reason: Code
    tried_therapist_ids: list[Id] = Field(default_factory=list, max_length=20)
    failed_at: AwareDatetime


class CheckInDue(EventData):
    check_in_id: Id
    client_id: Id
    therapist_id: Id
    due_at: AwareDatetime
    instruments: list[Instrument] = Field(min_length=1, max_length=3)
    series_id: Id | None = None


class TherapistAvailabilityChanged(EventData):
    """A therapist's weekly availability changed; matching keeps a read model of it."""

    therapist_id: Id
    timezone: TimeZoneName
    weekly: list[WeeklyWindow] = Field(default_factory=list, max_length=100)
    accepting_new_clients: bool = True
    open_slots_next_14_days: int = Field(default=0, ge=0)
    changed_at: AwareDatetime


# --- produced by notifications ------------------------------------------------------


Channel = Literal["email", "sms", "push", "in_app"]


class NotificationDelivered(EventData):
    notification_id: Id
    recipient_id: Id
    channel: Channel
    kind: Code
    cause_event_id: Id
    delivered_at: AwareDatetime


class NotificationFailed(EventData):
    notification_id: Id
    recipient_id: Id
    channel: Channel
    kind: Code
    cause_event_id: Id
    reason: Code
    failed_at: AwareDatetime
