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
A clinician's on-behalf answer is marked in the check-in and named in `check-in-completed`
(`entered_on_behalf_by`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.intake.context import IntakeContext
from services.intake.domain.check_ins import CheckInAnswers, answer_problems, takes_answer
from services.intake.domain.client_record import ClientRecord
from services.intake.domain.on_behalf import OnBehalfEntry
from services.intake.domain.outcomes import Change, Measures, measure_change
from services.intake.domain.plan import PlanGoal, goals_reached, review_reasons
from services.intake.domain.risk import RiskScreen, screen_risk
from services.intake.domain.scoring import score_gad7, score_phq9
from services.intake.store.check_ins import due_envelope, note_context
from services.intake.store.client_records import client_record
from services.intake.store.intakes import latest_submitted, whereabouts_of
from services.intake.store.on_behalf import ENTERED_ON_BEHALF, entry_document, reason_context
from services.intake.store.screenings import screening_document
from services.intake.store.sealing import seal
from services.intake.store.treatment_plans import current_plan, plan_goals
from shared.clock import stored_instant
from shared.events.common import Concern, Gad7Summary, OutcomeChange, Phq9Summary, RiskLevel
from shared.events.envelope import OutgoingEvent, new_event
from shared.events.models import CheckInCompleted, RiskFlagged
from shared.refusals import Conflict, Invalid, NotFound
from shared.storage import Document
from shared.storage.documents import Revision

EARLIER_CHECK_INS = 2
"""Earlier completed check-ins the review rules look at (with this one: the last three)."""


@dataclass(frozen=True, slots=True)
class AnswerCheckIn:
    check_in_id: str
    answers: CheckInAnswers
    now: datetime
    on_behalf: OnBehalfEntry | None = None
    """A clinician's answer for the client; None: the caller's own."""


async def answer_check_in(command: AnswerCheckIn, ctx: IntakeContext) -> Document:
    """The completed check-in (with `result`)."""
    check_in_id, answers = command.check_in_id, command.answers
    check_in = await ctx.check_ins.get(check_in_id)
    if check_in is None:
        raise NotFound("no such record")
    if not takes_answer(check_in["status"]):
        return check_in
    record = await client_record(ctx.clients, str(check_in["client_id"]))
    baseline = await latest_submitted(ctx.intakes, record.intake_ids)
    if baseline is None:
        raise Conflict("the client has no submitted intake to measure change against")
    plan = await current_plan(ctx.plans, record.client_id, known=record.plan_version)
    goals = plan_goals(plan) if plan else []
    if problems := answer_problems(answers, goals):
        raise Invalid(problems)
    earlier = await _earlier_completed(ctx, record, check_in_id)
    result = _assess(answers, baseline, goals, earlier)
    completed_at = stored_instant(command.now)
    on_behalf = command.on_behalf
    events = _events(check_in, baseline, result, at=completed_at, by=on_behalf.by if on_behalf else None)
    cipher = await ctx.cipher_for(record.client_id)
    answered: dict[str, Any] = {
        "completed_at": completed_at,
        "answers": answers.model_dump(mode="json", exclude={"note"}),
        "note": seal(cipher, answers.note, context=note_context(check_in_id)),
        "result": result,
        "status": "completed",
    }
    if on_behalf is not None:
        answered[ENTERED_ON_BEHALF] = entry_document(
            on_behalf,
            action="answer",
            at=completed_at,
            context=reason_context("check_ins", check_in_id),
            cipher=cipher,
        )

    def change(current: Document) -> Revision | None:
        # Answered meanwhile: that answer stands, nothing is published twice; expired
        # meanwhile: the miss was published, this answer comes too late (refused).
        if not takes_answer(current["status"]):
            return None
        return Revision({**current, **answered}, events)

    stored = await ctx.check_ins.update(check_in_id, change)
    if stored is None:
        raise NotFound("no such record")
    return stored


async def _earlier_completed(ctx: IntakeContext, record: ClientRecord, check_in_id: str) -> list[Document]:
    """Up to `EARLIER_CHECK_INS` earlier completed check-ins, oldest first."""
    found: list[Document] = []
    for earlier_id in reversed(record.check_in_ids):
        if earlier_id == check_in_id:
            continue
        earlier = await ctx.check_ins.get(earlier_id)
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
        **screening_document(phq9, gad7, risk),
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
    check_in: Document, baseline: Document, result: dict[str, Any], *, at: datetime, by: str | None
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
        entered_on_behalf_by=by,
    )
    events.append(new_event(completed, source="intake", cause=cause, correlation_id=journey, now=at))
    return events
