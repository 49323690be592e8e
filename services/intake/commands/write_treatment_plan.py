"""Write the client's personalized treatment plan: every change is a new version.

Each version publishes `treatment-plan-updated` (codes and numbers: approach, cadence,
check-in interval, goal codes, status) through its own document's outbox, so scheduling
follows the cadence and check-in interval, and `status: completed` ends care (scheduling
cancels the future series and stops check-ins; here the therapist's care relationship
ends, folded into the client's record with the version). Writing the very plan that is
current again is not a change: it returns the current version and publishes nothing, so
a retried request cannot mint a version.

Goals are set together: the first plan sent without `goals` takes the goals the client
gave at intake, each with the default target (`domain.plan.DEFAULT_TARGET`) and marked
`from_intake`; `starting_goals` is also what the draft offers the therapist.

Who may write (the therapist in care, or an admin or service for them) is decided by the
route before this runs (`domain.care.plan_author`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from services.intake.context import IntakeContext
from services.intake.domain.intake import FreeText, Integer
from services.intake.domain.plan import DEFAULT_TARGET, Comparison, Measure, Target
from services.intake.store.client_records import client_record, record_plan_version
from services.intake.store.intakes import latest_submitted, opened_goals
from services.intake.store.treatment_plans import latest_version, opened_plan, sealed_goals, version_id
from shared.clock import stored_instant
from shared.events.common import Approach, Code, Id, PlanStatus, SessionCadence
from shared.events.envelope import OutgoingEvent, deterministic_event_id, new_event
from shared.events.models import TreatmentPlanUpdated
from shared.observability.logs import get_logger
from shared.refusals import Conflict
from shared.security.field_encryption import FieldCipher
from shared.storage import AlreadyExists, Document

log = get_logger(__name__)

WRITE_ATTEMPTS = 3
"""Versions lost to a concurrent writer before the request gives up with 409."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GoalTarget(Strict):
    """A measurable target, e.g. `{"measure": "phq9", "comparison": "below", "value": 5}`."""

    measure: Measure
    comparison: Comparison = "below"
    value: Integer

    @model_validator(mode="after")
    def _reachable(self) -> GoalTarget:
        if problem := self.target().problem():
            raise ValueError(problem)
        return self

    def target(self) -> Target:
        return Target(measure=self.measure, comparison=self.comparison, value=self.value)

    @classmethod
    def of(cls, target: Target) -> GoalTarget:
        return cls(measure=target.measure, comparison=target.comparison, value=target.value)


class PlanGoalInput(Strict):
    code: Code
    description: FreeText | None = Field(default=None, description="Free text; encrypted at rest")
    target: GoalTarget
    from_intake: bool = Field(default=False, description="The client set this goal in their intake")


class TreatmentPlanInput(Strict):
    approach: Approach
    techniques: list[Code] = Field(default_factory=list, max_length=20)
    goals: list[PlanGoalInput] = Field(
        default_factory=list,
        max_length=20,
        description="Left out of the first plan: the goals of the client's intake, at the default target",
    )
    session_cadence: SessionCadence = SessionCadence.weekly
    check_in_interval_days: Integer = Field(default=14, ge=1, le=90)
    review_at: AwareDatetime | None = None
    status: PlanStatus = PlanStatus.active
    therapist_id: Id | None = Field(
        default=None,
        description="The therapist in care; a clinician writing the plan is it, an admin may name them",
    )

    @field_validator("techniques")
    @classmethod
    def _no_repeated_technique(cls, techniques: list[str]) -> list[str]:
        if len(set(techniques)) != len(techniques):
            raise ValueError("each technique may appear once")
        return techniques

    @field_validator("goals")
    @classmethod
    def _one_entry_per_goal(cls, goals: list[PlanGoalInput]) -> list[PlanGoalInput]:
        if len({goal.code for goal in goals}) != len(goals):
            raise ValueError("each goal code may appear once")
        return goals


def starting_goals(intake: Document | None, cipher: FieldCipher) -> list[PlanGoalInput]:
    """The intake's goals as plan goals: the client's words, the default target, `from_intake`."""
    if intake is None:
        return []
    return [
        PlanGoalInput(
            code=goal["code"],
            description=goal["description"],
            target=GoalTarget.of(DEFAULT_TARGET),
            from_intake=True,
        )
        for goal in opened_goals(intake, cipher)
    ]


@dataclass(frozen=True, slots=True)
class WriteTreatmentPlan:
    client_id: str
    plan: TreatmentPlanInput
    therapist_id: str
    """The therapist in care it is written for (`domain.care.plan_author`, asked by the route)."""
    written_by: Mapping[str, str]
    """`{subject, role}` of the caller."""
    now: datetime


async def write_treatment_plan(command: WriteTreatmentPlan, ctx: IntakeContext) -> tuple[Document, bool]:
    """The current version after the write, and whether this command created it."""
    client_id, plan = command.client_id, command.plan
    cipher = await ctx.cipher_for(client_id)
    at = stored_instant(command.now)
    goals_given = "goals" in plan.model_fields_set
    content = plan.model_copy(
        update={
            "therapist_id": command.therapist_id,
            "review_at": stored_instant(plan.review_at) if plan.review_at else None,
        }
    )
    record = await client_record(ctx.clients, client_id)
    baseline = await latest_submitted(ctx.intakes, record.intake_ids)
    journey = str(baseline["correlation_id"]) if baseline else None
    recorded = known = record.plan_version
    for _ in range(WRITE_ATTEMPTS):
        current = await latest_version(ctx.plans, client_id, known=known)
        previous = await ctx.plans.get(version_id(client_id, current)) if current else None
        if current == 0 and not goals_given:
            content = content.model_copy(update={"goals": starting_goals(baseline, cipher)})
        if previous is not None and _same_content(opened_plan(previous, cipher), content):
            return previous, False
        document, event = _version(client_id, current + 1, content, cipher, journey, command.written_by, at)
        try:
            await ctx.plans.insert(document, [event])
        except AlreadyExists:
            known = current + 1  # another writer took this version: build on top of theirs
            continue
        unrecorded = [await ctx.plans.get(version_id(client_id, n)) for n in range(recorded + 1, current + 1)]
        updates = [(plan_update(v), v["created_at"]) for v in unrecorded if v is not None]
        await ctx.clients.upsert(
            client_id, record_plan_version(client_id, current + 1, [*updates, (event.data, at)])
        )
        log.info(
            "treatment plan version written", client_id=client_id, version=current + 1, status=plan.status
        )
        return document, True
    raise Conflict("the treatment plan is being changed concurrently; read it and try again")


def plan_update(version: Document) -> TreatmentPlanUpdated:
    """The `treatment-plan-updated` of a stored version: codes and numbers, never its text."""
    return TreatmentPlanUpdated(
        client_id=str(version["client_id"]),
        therapist_id=str(version["therapist_id"]),
        version=int(version["version"]),
        status=version["status"],
        approach=version["approach"],
        session_cadence=version["session_cadence"],
        check_in_interval_days=int(version["check_in_interval_days"]),
        goals=[str(goal["code"]) for goal in version.get("goals", [])],
        review_at=version.get("review_at"),
        updated_at=version["created_at"],
    )


def _version(
    client_id: str,
    version: int,
    content: TreatmentPlanInput,
    cipher: FieldCipher,
    journey: str | None,
    written_by: Mapping[str, str],
    at: datetime,
) -> tuple[Document, OutgoingEvent]:
    fields = content.model_dump(mode="json")
    document_id = version_id(client_id, version)
    document: Document = {
        **fields,
        "_id": document_id,
        "client_id": client_id,
        "version": version,
        "review_at": content.review_at,
        "goals": sealed_goals(fields["goals"], client_id=client_id, version=version, cipher=cipher),
        "created_at": at,
        "written_by": dict(written_by),
    }
    event = new_event(
        plan_update(document),
        source="intake",
        correlation_id=journey or document_id,
        event_id=deterministic_event_id(document_id, "treatment-plan-updated"),
        now=at,
    )
    return document, event


def _same_content(previous: Document, content: TreatmentPlanInput) -> bool:
    fields = set(TreatmentPlanInput.model_fields)
    before = TreatmentPlanInput.model_validate({k: v for k, v in previous.items() if k in fields})
    return before.model_dump(mode="json") == content.model_dump(mode="json")
