"""Writing the treatment plan on the fakes: a new version and one event per change, intake goals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from services.intake.commands.acknowledge_plan import AcknowledgePlan, acknowledge_plan
from services.intake.commands.follow_care import FollowCare, follow_care
from services.intake.commands.write_treatment_plan import (
    TreatmentPlanInput,
    WriteTreatmentPlan,
    starting_goals,
    write_treatment_plan,
)
from services.intake.context import IntakeContext
from services.intake.domain.plan import DEFAULT_TARGET
from services.intake.store.client_records import record_of
from services.intake.store.treatment_plans import opened_plan
from shared.care.relationship import CareState
from shared.events.envelope import new_event
from shared.events.models import TreatmentPlanUpdated
from shared.refusals import Conflict
from shared.storage import Document
from shared.storage.documents import Revision
from tests.support.fakes import InMemoryDocuments, ManualClock
from tests.unit.intake import samples

WRITER = {"subject": "therapist-1", "role": "clinician"}
NOW = ManualClock()()
PLAN: dict[str, Any] = {
    "approach": "cbt",
    "techniques": ["exposure", "cognitive_restructuring"],
    "goals": [
        {
            "code": "reduce_panic",
            "description": samples.GOAL_TEXT,
            "target": {"measure": "gad7", "comparison": "below", "value": 8},
        }
    ],
    "session_cadence": "weekly",
    "check_in_interval_days": 14,
}


async def write(ctx: IntakeContext, plan: dict[str, Any]) -> tuple[Document, bool]:
    command = WriteTreatmentPlan(
        client_id="client-1",
        plan=TreatmentPlanInput.model_validate(plan),
        therapist_id="therapist-1",
        written_by=WRITER,
        now=NOW,
    )
    return await write_treatment_plan(command, ctx)


async def acknowledge(ctx: IntakeContext, version: int) -> tuple[Document, datetime]:
    return await acknowledge_plan(
        AcknowledgePlan(client_id="client-1", version=version, now=ctx.clock()), ctx
    )


async def follow(ctx: IntakeContext, *events: BaseModel) -> None:
    for data in events:
        await follow_care(
            FollowCare("client-1", data, new_event(data, source="tests", now=NOW).envelope), ctx
        )


def plan_events(ctx: IntakeContext) -> list[Any]:
    assert isinstance(ctx.plans, InMemoryDocuments)
    return ctx.plans.events


async def test_the_first_plan_is_version_1_and_publishes_its_codes() -> None:
    ctx = samples.context()
    version, created = await write(ctx, PLAN)
    assert created and version["_id"] == "client-1:v1"
    (event,) = plan_events(ctx)
    assert isinstance(event.data, TreatmentPlanUpdated)
    assert (event.data.version, event.data.status, event.data.goals) == (1, "active", ["reduce_panic"])
    assert event.data.check_in_interval_days == 14
    assert samples.GOAL_TEXT not in event.value().decode()
    record = await ctx.clients.get("client-1")
    assert record is not None and record["plan_version"] == 1


async def test_every_change_is_a_new_version_and_old_ones_stay() -> None:
    ctx = samples.context()
    await write(ctx, PLAN)
    version, created = await write(ctx, {**PLAN, "session_cadence": "biweekly"})
    assert created and version["version"] == 2
    assert [e.data.version for e in plan_events(ctx)] == [1, 2]
    first = await ctx.plans.get("client-1:v1")
    assert first is not None and first["session_cadence"] == "weekly"


async def test_the_current_plan_sent_again_is_not_a_change() -> None:
    ctx = samples.context()
    await write(ctx, PLAN)
    version, created = await write(ctx, PLAN)
    assert not created and version["version"] == 1
    assert len(plan_events(ctx)) == 1


async def test_completing_the_plan_is_published_so_care_can_end() -> None:
    ctx = samples.context()
    await write(ctx, PLAN)
    await write(ctx, {**PLAN, "status": "completed"})
    assert plan_events(ctx)[-1].data.status == "completed"


async def test_goal_descriptions_are_sealed_and_open_for_readers() -> None:
    ctx = samples.context()
    version, _ = await write(ctx, PLAN)
    assert samples.GOAL_TEXT not in repr(version)
    assert opened_plan(version, ctx.cipher)["goals"][0]["description"] == samples.GOAL_TEXT


async def test_a_version_taken_by_a_concurrent_writer_is_built_upon() -> None:
    """The record still says v0 while v1 exists: the writer probes forward and writes v2."""
    ctx = samples.context()
    await write(ctx, PLAN)

    def forget(current: Document | None) -> Revision:
        assert current is not None
        return Revision({**current, "plan_version": 0})

    await ctx.clients.upsert("client-1", forget)
    version, created = await write(ctx, {**PLAN, "approach": "act"})
    assert created and version["version"] == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"approach": "hypnosis"}, "approach"),
        ({"check_in_interval_days": 0}, "check_in_interval_days"),
        ({"check_in_interval_days": 91}, "check_in_interval_days"),
        ({"session_cadence": "daily"}, "session_cadence"),
        ({"status": "abandoned"}, "status"),
        ({"review_at": "2026-05-01T09:00:00"}, "review_at"),
        ({"goals": [{"code": "mood", "target": {"measure": "phq9", "value": 30}}]}, "goals.0.target"),
        ({"goals": [{"code": "mood"}]}, "goals.0.target"),
    ],
)
def test_a_bad_plan_field_is_named(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TreatmentPlanInput.model_validate({**PLAN, **change})
    assert field in {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}


def test_review_at_must_carry_an_offset() -> None:
    plan = TreatmentPlanInput.model_validate({**PLAN, "review_at": "2026-05-01T09:00:00Z"})
    assert plan.review_at == datetime(2026, 5, 1, 9, tzinfo=UTC)


# ---------------------------------------------------------------------- goals set together


async def with_intake(ctx: IntakeContext, **overrides: Any) -> str:
    return str((await samples.submitted(ctx, **overrides))["_id"])


async def test_a_first_plan_without_goals_takes_the_intakes_goals_at_the_default_target() -> None:
    ctx = samples.context()
    await with_intake(ctx)
    plan = {k: v for k, v in PLAN.items() if k != "goals"}
    version, created = await write(ctx, plan)
    assert created
    (goal,) = opened_plan(version, ctx.cipher)["goals"]
    assert goal == {
        "code": "reduce_panic",
        "description": samples.GOAL_TEXT,  # the client's words, sealed again for the plan
        "target": {"measure": "goal_progress", "comparison": "at_least", "value": 7},
        "from_intake": True,
    }
    assert samples.GOAL_TEXT not in repr(version)
    assert plan_events(ctx)[0].data.goals == ["reduce_panic"]


async def test_goals_given_even_none_are_the_plans_goals() -> None:
    ctx = samples.context()
    await with_intake(ctx)
    version, _ = await write(ctx, {**PLAN, "goals": []})
    assert version["goals"] == []


async def test_a_later_version_without_goals_does_not_bring_the_intake_goals_back() -> None:
    ctx = samples.context()
    await with_intake(ctx)
    await write(ctx, {**PLAN, "goals": []})
    version, _ = await write(ctx, {"approach": "act"})
    assert version["version"] == 2 and version["goals"] == []


async def test_the_draft_offers_the_intakes_goals_marked_from_intake() -> None:
    ctx = samples.context()
    intake_id = await with_intake(ctx)
    intake = await ctx.intakes.get(intake_id)
    (goal,) = starting_goals(intake, ctx.cipher)
    assert (goal.code, goal.description, goal.from_intake) == ("reduce_panic", samples.GOAL_TEXT, True)
    assert goal.target.target() == DEFAULT_TARGET
    assert starting_goals(None, ctx.cipher) == []


async def test_a_completed_plan_ends_the_care_of_its_therapist_in_the_clients_record() -> None:
    ctx = samples.context()
    await follow(
        ctx,
        samples.proposed("client-1", "therapist-1"),
        samples.accepted("client-1", "therapist-1"),
        samples.attended("client-1", "therapist-1"),
    )
    await write(ctx, PLAN)
    record = await ctx.clients.get("client-1")
    assert record is not None and record_of(record).care.may_write_plan("therapist-1")
    await write(ctx, {**PLAN, "status": "completed"})
    record = await ctx.clients.get("client-1")
    assert record is not None
    assert record_of(record).care.state_of("therapist-1", NOW) is CareState.ended


async def test_a_completed_version_the_record_missed_is_folded_by_the_next_write() -> None:
    """A writer crashed after inserting its version: the next writer catches the record up."""
    ctx = samples.context()
    await follow(
        ctx, samples.accepted("client-1", "therapist-1"), samples.attended("client-1", "therapist-1")
    )
    await write(ctx, {**PLAN, "status": "completed"})

    def crashed_before_the_record(current: Document | None) -> Revision:
        assert current is not None
        return Revision({**current, "plan_version": 0, "relationships": before})

    record = await ctx.clients.get("client-1")
    assert record is not None
    before = [{**r, "state": "in_care"} for r in record["relationships"]]
    await ctx.clients.upsert("client-1", crashed_before_the_record)
    await write(ctx, {**PLAN, "approach": "act"})  # written by an admin, say
    record = await ctx.clients.get("client-1")
    assert record is not None and record["plan_version"] == 2
    assert record_of(record).care.state_of("therapist-1", NOW) is CareState.ended


# ---------------------------------------------------------------------- the client's acknowledgement


async def test_the_client_acknowledges_the_current_version_once() -> None:
    clock = ManualClock()
    ctx = samples.context(clock=clock)
    await write(ctx, PLAN)
    version, first = await acknowledge(ctx, 1)
    clock.advance(timedelta(hours=1))
    _, again = await acknowledge(ctx, 1)
    assert version["_id"] == "client-1:v1" and first == again == NOW
    record = await ctx.clients.get("client-1")
    assert record is not None
    assert record_of(record).acknowledged_at(1) == NOW and record_of(record).acknowledged_at(2) is None


@pytest.mark.parametrize("version", [1, 3])
async def test_only_the_current_version_can_be_acknowledged(version: int) -> None:
    ctx = samples.context()
    await write(ctx, PLAN)
    await write(ctx, {**PLAN, "approach": "act"})
    with pytest.raises(Conflict) as refused:
        await acknowledge(ctx, version)
    assert refused.value.code == "not_current_version"


async def test_no_plan_cannot_be_acknowledged() -> None:
    with pytest.raises(Conflict):
        await acknowledge(samples.context(), 1)
