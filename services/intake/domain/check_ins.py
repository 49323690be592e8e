"""A check-in's life: pending until answered or expired as missed, and what an answer must hold.

A check-in stays open for a while after it fell due (`INTAKE_CHECK_IN_EXPIRY_DAYS`); then
it is missed. Only a pending check-in changes: the first answer stands (a second one
gets the first one's result), and a missed one can no longer be answered (its miss was
published; an answer comes too late). An answer rates every goal of the current plan,
and no other, and carries the C-SSRS screener whenever PHQ-9 item 9 is above 0.

The therapist is to be prompted when a client keeps missing check-ins (notifications
does so at two in a row), so each miss counts itself and the misses right before it; an
answered check-in breaks the run. An earlier check-in still pending past its own
deadline counts as missed: its own expiry may simply not have been written yet (two
timers fire side by side), and it can no longer be answered either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.intake.domain.intake import FreeText, Integer, Item, Screener, screener_problems
from services.intake.domain.plan import PlanGoal
from services.intake.domain.scoring import GAD7_ITEMS, PHQ9_ITEMS
from shared.events.common import Code
from shared.refusals import Conflict, FieldProblem

CheckInStatus = Literal["pending", "completed", "missed"]

CHECK_IN_MISSED: Final = "check_in_missed"


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


@dataclass(frozen=True, slots=True)
class EarlierCheckIn:
    status: CheckInStatus
    due_at: datetime


def expires_at(due_at: datetime, expiry: timedelta) -> datetime:
    return due_at + expiry


def takes_answer(status: CheckInStatus) -> bool:
    """Whether a check-in in `status` is answered now: pending yes, completed no (that answer
    stands); a missed one refuses the answer (409 `check_in_missed`)."""
    if status == "missed":
        raise Conflict("the check-in expired as missed; it can no longer be answered", code=CHECK_IN_MISSED)
    return status == "pending"


def expires(status: CheckInStatus) -> bool:
    """Only a pending check-in expires; an answer (or an expiry) that came first stands."""
    return status == "pending"


def answer_problems(answers: CheckInAnswers, goals: Sequence[PlanGoal]) -> list[FieldProblem]:
    """Every problem of an answer against the current plan's `goals`, named as the caller sent it."""
    problems = screener_problems(answers.phq9, answers.cssrs, field="body.cssrs")
    codes = {goal.code for goal in goals}
    problems += [
        FieldProblem(f"body.goal_progress.{index}.goal", "not a goal of the current treatment plan")
        for index, entry in enumerate(answers.goal_progress)
        if entry.goal not in codes
    ]
    rated = {entry.goal for entry in answers.goal_progress}
    if missing := [goal.code for goal in goals if goal.code not in rated]:
        problems.append(
            FieldProblem("body.goal_progress", f"progress is required for goals {', '.join(missing)}")
        )
    return problems


def consecutive_missed(earlier: Sequence[EarlierCheckIn], *, expiry: timedelta, now: datetime) -> int:
    """This miss plus the misses right before it; `earlier` is newest first."""
    run = 1
    for check_in in earlier:
        lapsed = check_in.status == "pending" and expires_at(check_in.due_at, expiry) <= now
        if check_in.status != "missed" and not lapsed:
            break
        run += 1
    return run
