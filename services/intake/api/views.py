"""What the intake API answers: response models (they are the OpenAPI document) and builders.

Builders decrypt free text for the caller who is allowed to read it; the route has
recorded the read in the audit trail before it answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.intake.commands.write_treatment_plan import GoalTarget, PlanGoalInput
from services.intake.domain.check_ins import GoalProgress
from services.intake.domain.crisis import Whereabouts, crisis_resources_for
from services.intake.domain.intake import IntakeSections, Screener, Window
from services.intake.store.check_ins import note_context
from services.intake.store.intakes import opened_sections, whereabouts_of
from services.intake.store.on_behalf import ENTERED_ON_BEHALF, intake_entries, opened_entry, reason_context
from services.intake.store.sealing import unseal
from services.intake.store.treatment_plans import opened_plan
from shared.events.common import (
    Approach,
    Concern,
    Gad7Summary,
    Instrument,
    OutcomeChange,
    Phq9Summary,
    PlanStatus,
    PreferredFormat,
    RiskLevel,
    SessionCadence,
)
from shared.security.field_encryption import FieldCipher
from shared.storage import Document


class CrisisResourceView(BaseModel):
    code: str
    name: str
    how: str
    contact: str


class Screening(BaseModel):
    phq9: Phq9Summary
    gad7: Gad7Summary
    risk_level: RiskLevel
    risk_reasons: list[str] = Field(description="Codes of the positive screener answers")


class SubmissionView(Screening):
    id: str
    client_id: str
    status: Literal["submitted"]
    submitted_at: datetime
    crisis_resources: list[CrisisResourceView] | None = Field(
        default=None, description="Shown at once when the risk is moderate or high"
    )


class OnBehalfView(BaseModel):
    """An entry a clinician made for the client (`on_behalf_of`): who, when, how and why."""

    by: str = Field(description="The clinician's therapist id")
    at: datetime
    method: Literal["phone", "in_session", "paper"]
    action: str = Field(description="create, update, submit or answer")
    reason: str | None = Field(default=None, description="null once the client's data was erased")


class IntakeView(IntakeSections):
    id: str
    client_id: str
    status: Literal["draft", "submitted"]
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None = None
    result: Screening | None = None
    entered_on_behalf: list[OnBehalfView] = Field(
        default_factory=list, description="Entries a clinician made for the client, oldest first"
    )


class IntakeSummary(BaseModel):
    id: str
    status: Literal["draft", "submitted"]
    created_at: datetime
    submitted_at: datetime | None = None
    risk_level: RiskLevel | None = None


class PlanGoalView(BaseModel):
    code: str
    description: str | None = None
    target: GoalTarget
    from_intake: bool = Field(default=False, description="The client set this goal in their intake")


class PlanView(BaseModel):
    id: str
    client_id: str
    version: int
    therapist_id: str
    status: PlanStatus
    approach: Approach
    techniques: list[str]
    goals: list[PlanGoalView]
    session_cadence: SessionCadence
    check_in_interval_days: int
    review_at: datetime | None = None
    created_at: datetime
    acknowledged_at: datetime | None = Field(
        default=None, description="When the client acknowledged this version (null: not yet)"
    )


class PlanDraftView(BaseModel):
    """A starting plan for the therapist in care: the client's intake goals, ready to adjust and PUT."""

    client_id: str
    therapist_id: str
    intake_id: str | None = Field(default=None, description="The submitted intake the goals come from")
    approach: Approach | None = Field(default=None, description="The approach the client prefers, if any")
    goals: list[PlanGoalInput]
    session_cadence: SessionCadence = SessionCadence.weekly
    check_in_interval_days: int = 14


class ReferralView(BaseModel):
    """What a proposed therapist needs to decide whether they fit: codes, bands and windows only.

    Never history, diagnoses, answers, item scores, goals or free text (DESIGN §2).
    """

    client_id: str
    intake_id: str
    submitted_at: datetime
    concerns: list[Concern]
    risk_level: RiskLevel = Field(description="The risk band of the intake's screen")
    preferred_format: PreferredFormat
    languages: list[str]
    availability: list[Window] = Field(description="Weekly windows in the client's time zone")
    jurisdiction: str
    timezone: str


class CheckInResult(Screening):
    change: OutcomeChange
    plan_review_suggested: bool
    review_reasons: list[str]
    goals_reached: list[str]


class CheckInAnswersView(BaseModel):
    phq9: list[int]
    gad7: list[int]
    cssrs: Screener | None = None
    goal_progress: list[GoalProgress] = Field(default_factory=list)


class CheckInView(BaseModel):
    id: str
    client_id: str
    therapist_id: str
    status: Literal["pending", "completed", "missed"] = Field(
        description="missed: unanswered past its window; it can no longer be answered"
    )
    due_at: datetime
    instruments: list[Instrument]
    created_at: datetime
    goals_to_rate: list[str] = Field(
        default_factory=list, description="Goal codes of the current plan, each rated 0–10 in the answer"
    )
    completed_at: datetime | None = None
    missed_at: datetime | None = None
    answers: CheckInAnswersView | None = None
    note: str | None = None
    result: CheckInResult | None = None
    crisis_resources: list[CrisisResourceView] | None = None
    entered_on_behalf: OnBehalfView | None = Field(
        default=None, description="Set when a clinician answered for the client"
    )


def _crisis(result: dict[str, Any] | None, where: Whereabouts) -> list[dict[str, Any]] | None:
    return crisis_resources_for(RiskLevel(result["risk_level"]), where) if result else None


def submission_view(intake: Document) -> SubmissionView:
    result = intake["result"]
    return SubmissionView.model_validate(
        {
            **result,
            "id": intake["_id"],
            "client_id": intake["client_id"],
            "status": "submitted",
            "submitted_at": intake["submitted_at"],
            "crisis_resources": _crisis(result, whereabouts_of(intake)),
        }
    )


def intake_view(intake: Document, cipher: FieldCipher) -> IntakeView:
    sections = opened_sections(intake["sections"], intake_id=str(intake["_id"]), cipher=cipher)
    return IntakeView.model_validate(
        {
            **sections.model_dump(),
            "id": intake["_id"],
            "client_id": intake["client_id"],
            "status": intake["status"],
            "created_at": intake["created_at"],
            "updated_at": intake["updated_at"],
            "submitted_at": intake.get("submitted_at"),
            "result": intake.get("result"),
            ENTERED_ON_BEHALF: [
                opened_entry(entry, context=reason_context("intakes", str(intake["_id"])), cipher=cipher)
                for entry in intake_entries(intake)
            ],
        }
    )


def intake_summary(intake: Document) -> IntakeSummary:
    result = intake.get("result") or {}
    return IntakeSummary(
        id=intake["_id"],
        status=intake["status"],
        created_at=intake["created_at"],
        submitted_at=intake.get("submitted_at"),
        risk_level=result.get("risk_level"),
    )


def plan_view(version: Document, cipher: FieldCipher, *, acknowledged_at: datetime | None) -> PlanView:
    opened = opened_plan(version, cipher)
    return PlanView.model_validate({**opened, "id": opened["_id"], "acknowledged_at": acknowledged_at})


def referral_view(intake: Document) -> ReferralView:
    """The summary from the submitted intake's plain fields; nothing sealed is even opened."""
    sections = intake["sections"]
    return ReferralView(
        client_id=intake["client_id"],
        intake_id=intake["_id"],
        submitted_at=intake["submitted_at"],
        concerns=sections["concerns"],
        risk_level=intake["result"]["risk_level"],
        preferred_format=(sections.get("preferences") or {}).get("format") or PreferredFormat.video,
        languages=sections["languages"],
        availability=[Window.model_validate(window) for window in sections["availability"]],
        jurisdiction=sections["jurisdiction"],
        timezone=sections["timezone"],
    )


def check_in_view(
    check_in: Document, cipher: FieldCipher, *, goals_to_rate: list[str], where: Whereabouts
) -> CheckInView:
    pending = check_in["status"] == "pending"
    return CheckInView.model_validate(
        {
            **check_in,
            "id": check_in["_id"],
            "goals_to_rate": goals_to_rate if pending else [],
            "note": unseal(cipher, check_in.get("note"), context=note_context(str(check_in["_id"]))),
            "crisis_resources": _crisis(check_in.get("result"), where),
            ENTERED_ON_BEHALF: opened_entry(
                entered, context=reason_context("check_ins", str(check_in["_id"])), cipher=cipher
            )
            if (entered := check_in.get(ENTERED_ON_BEHALF))
            else None,
        }
    )
