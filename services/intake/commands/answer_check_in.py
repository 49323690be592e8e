"""Answer a check-in: score, re-screen risk, measure change against the intake baseline.

The completed check-in and its events (`risk-flagged` first when the screen is moderate
or high, then `check-in-completed`) are one write of the check-in document, and the
events take ids derived from the `check-in-due` that created it, so a check-in answered
twice publishes once: the second answer finds it completed and gets the stored result.

Change is measured against the client's latest submitted intake, whose correlation id
(the journey) the events carry, and whose jurisdiction and first language `risk-flagged`
names (the on-call page says the country; the client's crisis lines fit it). The plan
review reasons look at the current plan's goals and at the client's earlier completed
check-ins. A check-in that expired as missed is closed: answering it is refused (409).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.intake.commands.refusals import Conflict, InvalidFields, NotFound
from services.intake.commands.times import stored_time
from services.intake.commands.write_treatment_plan import plan_goals
from services.intake.domain.intake import FieldError, FreeText, Integer, Item, Screener, screener_problems
from services.intake.domain.outcomes import Change, Measures, measure_change
from services.intake.domain.plan import PlanGoal, goals_reached, review_reasons
from services.intake.domain.risk import RiskScreen, screen_risk
from services.intake.domain.scoring import GAD7_ITEMS, PHQ9_ITEMS, score_gad7, score_phq9
from services.intake.store import IntakeStores
from services.intake.store.check_ins import due_envelope, note_context
from services.intake.store.client_records import client_record
from services.intake.store.intakes import latest_submitted, whereabouts_of
from services.intake.store.sealing import seal
from services.intake.store.treatment_plans import latest_version, version_id
from shared.events.common import Code, Concern, Gad7Summary, OutcomeChange, Phq9Summary, RiskLevel
from shared.events.envelope import OutgoingEvent, new_event
from shared.events.models import CheckInCompleted, RiskFlagged
from shared.security.field_encryption import FieldCipher
from shared.storage import Document
from shared.storage.documents import Revision

EARLIER_CHECK_INS = 2
"""Earlier completed check-ins the review rules look at (with this one: the last three)."""


class GoalProgress(BaseModel):
    model_config = ConfigDict(extra="forbid")

    goal: Code
    score: Integer = Field(ge=0, le=10, description="0 no progress … 10 goal fully reached")


class CheckInAnswers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phq9: list[Item] = Field(min_length=PHQ9_ITEMS, max_length=PHQ9_ITEMS)
    gad7: list[Item] = Field(min_length=GAD7_ITEMS, max_length=GAD7_ITEMS)
    cssrs: Screener | None = Field(default=None, description="Required when PHQ-9 item 9 is above 0")
    goal_progress: list[GoalProgress] = Field(
        default_factory=list, max_length=20, description="One entry per goal of the current plan"
    )
    note: FreeText | None = Field(default=None, description="Free text; encrypted at rest")

    @field_validator("goal_progress")
    @classmethod
    def _one_entry_per_goal(cls, progress: list[GoalProgress]) -> list[GoalProgress]:
        if len({entry.goal for entry in progress}) != len(progress):
            raise ValueError("each goal may appear once")
        return progress


async def answer_check_in(
    stores: IntakeStores, cipher: FieldCipher, check_in_id: str, answers: CheckInAnswers, *, now: datetime
) -> Document:
    """The completed check-in (with `result`)."""
    check_in = await stores.check_ins.get(check_in_id)
    if check_in is None:
        raise NotFound(check_in_id)
    if check_in["status"] == "completed":
        return check_in
    if check_in["status"] == "missed":
        raise _missed()
    record = await client_record(stores.clients, str(check_in["client_id"]))
    baseline = await latest_submitted(stores.intakes, record.get("intake_ids", []))
    if baseline is None:
        raise Conflict("the client has no submitted intake to measure change against")
    goals = await _current_goals(stores, record)
    if problems := _answer_problems(answers, goals):
        raise InvalidFields(problems)
    earlier = await _earlier_completed(stores, record, check_in_id)
    result = _assess(answers, baseline, goals, earlier)
    completed_at = stored_time(now)
    events = _events(check_in, baseline, result, at=completed_at)
    answered = {
        "completed_at": completed_at,
        "answers": answers.model_dump(mode="json", exclude={"note"}),
        "note": seal(cipher, answers.note, context=note_context(check_in_id)),
        "result": result,
        "status": "completed",
    }

    def change(current: Document) -> Revision | None:
        if current["status"] == "completed":
            return None  # answered meanwhile: that answer stands, nothing is published twice
        if current["status"] == "missed":
            raise _missed()  # expired meanwhile: the miss was published, the answer comes too late
        return Revision({**current, **answered}, events)

    stored = await stores.check_ins.update(check_in_id, change)
    if stored is None:
        raise NotFound(check_in_id)
    return stored


def _missed() -> Conflict:
    return Conflict("the check-in expired as missed; it can no longer be answered", code="check_in_missed")


async def _current_goals(stores: IntakeStores, record: Document) -> list[PlanGoal]:
    client_id = str(record["client_id"])
    version = await latest_version(stores.plans, client_id, known=int(record.get("plan_version", 0)))
    plan = await stores.plans.get(version_id(client_id, version)) if version else None
    return plan_goals(plan) if plan else []


def _answer_problems(answers: CheckInAnswers, goals: Sequence[PlanGoal]) -> list[FieldError]:
    problems = screener_problems(answers.phq9, answers.cssrs, field="body.cssrs")
    codes = {goal.code for goal in goals}
    problems += [
        FieldError(f"body.goal_progress.{index}.goal", "not a goal of the current treatment plan")
        for index, entry in enumerate(answers.goal_progress)
        if entry.goal not in codes
    ]
    rated = {entry.goal for entry in answers.goal_progress}
    if missing := [goal.code for goal in goals if goal.code not in rated]:
        problems.append(
            FieldError("body.goal_progress", f"progress is required for goals {', '.join(missing)}")
        )
    return problems


async def _earlier_completed(stores: IntakeStores, record: Document, check_in_id: str) -> list[Document]:
    """Up to `EARLIER_CHECK_INS` earlier completed check-ins, oldest first."""
    found: list[Document] = []
    for earlier_id in reversed(record.get("check_in_ids", [])):
        if earlier_id == check_in_id:
            continue
        earlier = await stores.check_ins.get(earlier_id)
        if earlier is not None and earlier.get("status") == "completed":
            found.append(earlier)
            if len(found) == EARLIER_CHECK_INS:
                break
    return sorted(found, key=lambda document: document["completed_at"])


def _assess(
    answers: CheckInAnswers, baseline: Document, goals: Sequence[PlanGoal], earlier: Sequence[Document]
) -> dict[str, Any]:
    phq9, gad7 = score_phq9(answers.phq9), score_gad7(answers.gad7)
    risk = screen_risk(phq9.item9, answers.cssrs.answers() if answers.cssrs else None)
    before = baseline["result"]
    change = measure_change(
        Measures(phq9=before["phq9"]["total"], gad7=before["gad7"]["total"]),
        Measures(phq9=phq9.total, gad7=gad7.total),
    )
    progress = {entry.goal: entry.score for entry in answers.goal_progress}
    reached = goals_reached(goals, phq9=phq9.total, gad7=gad7.total, progress=progress)
    reasons = review_reasons(
        change,
        earlier_improvements=[bool(e["result"]["change"]["reliable_improvement"]) for e in earlier],
        goals_reached_now=reached,
        goals_reached_before=earlier[-1]["result"]["goals_reached"] if earlier else [],
        risk=risk.level,
    )
    return {
        "phq9": {"total": phq9.total, "severity": phq9.severity, "item9": phq9.item9},
        "gad7": {"total": gad7.total, "severity": gad7.severity},
        "risk_level": risk.level.value,
        "risk_reasons": list(risk.reasons),
        "change": _change_fields(change),
        "plan_review_suggested": bool(reasons),
        "review_reasons": reasons,
        "goals_reached": reached,
    }


def _change_fields(change: Change) -> dict[str, Any]:
    return {
        "phq9_delta": change.phq9_delta,
        "gad7_delta": change.gad7_delta,
        "reliable_improvement": change.reliable_improvement,
        "reliable_deterioration": change.reliable_deterioration,
        "response": change.response,
        "remission": change.remission,
        "recovery": change.recovery,
    }


def _events(
    check_in: Document, baseline: Document, result: dict[str, Any], *, at: datetime
) -> list[OutgoingEvent]:
    """`risk-flagged` (when the re-screen alerts) then `check-in-completed`: codes and numbers only."""
    cause = due_envelope(check_in)
    journey = str(baseline.get("correlation_id") or cause.correlation_id)
    check_in_id, client_id = str(check_in["_id"]), str(check_in["client_id"])
    therapist_id = str(check_in["therapist_id"])
    where = whereabouts_of(baseline)
    events: list[OutgoingEvent] = []
    risk = RiskScreen(level=RiskLevel(result["risk_level"]), reasons=tuple(result["risk_reasons"]))
    if risk.alerting:
        flagged = RiskFlagged(
            check_in_id=check_in_id,
            client_id=client_id,
            therapist_id=therapist_id,
            risk_level=risk.level,
            reasons=list(risk.reasons),
            flagged_at=at,
            jurisdiction=where.jurisdiction,
            language=where.language,
        )
        events.append(new_event(flagged, source="intake", cause=cause, correlation_id=journey, now=at))
    completed = CheckInCompleted(
        check_in_id=check_in_id,
        client_id=client_id,
        therapist_id=therapist_id,
        completed_at=at,
        phq9=Phq9Summary(**result["phq9"]),
        gad7=Gad7Summary(**result["gad7"]),
        risk_level=risk.level,
        concerns=[Concern(code) for code in baseline["sections"].get("concerns") or []],
        change=OutcomeChange(**result["change"]),
        plan_review_suggested=result["plan_review_suggested"],
        review_reasons=result["review_reasons"],
        goals_reached=result["goals_reached"],
    )
    events.append(new_event(completed, source="intake", cause=cause, correlation_id=journey, now=at))
    return events
