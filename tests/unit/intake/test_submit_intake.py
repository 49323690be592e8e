"""Drafts, saving sections and submitting an intake, on the in-memory fakes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.intake.commands.save_intake_sections import SaveIntakeSections, save_intake_sections
from services.intake.commands.submit_intake import SubmitIntake, submit_intake
from services.intake.context import IntakeContext
from services.intake.domain.intake import IntakeSections
from shared.events.models import IntakeCompleted, RiskFlagged
from shared.refusals import Conflict, Invalid
from tests.support.fakes import InMemoryDocuments, ManualClock
from tests.unit.intake import samples

CLIENT = {"subject": "client-1", "role": "client"}


async def draft(ctx: IntakeContext, **sections: Any) -> str:
    created = await samples.draft(ctx, created_by=CLIENT, **sections)
    return str(created["_id"])


async def submit(ctx: IntakeContext, intake_id: str) -> dict[str, Any]:
    return await submit_intake(SubmitIntake(intake_id=intake_id, now=ctx.clock()), ctx)


async def save(
    ctx: IntakeContext, intake_id: str, changes: IntakeSections, fields: set[str]
) -> dict[str, Any]:
    command = SaveIntakeSections(
        intake_id=intake_id, changes=changes, fields=frozenset(fields), now=ctx.clock()
    )
    return await save_intake_sections(command, ctx)


def events_of(ctx: IntakeContext) -> list[Any]:
    intakes = ctx.intakes
    assert isinstance(intakes, InMemoryDocuments)
    return intakes.events


async def test_a_draft_is_listed_on_the_clients_record() -> None:
    ctx = samples.context()
    intake_id = await draft(ctx, concerns=["grief_loss"])
    record = await ctx.clients.get("client-1")
    assert record is not None and record["intake_ids"] == [intake_id]
    stored = await ctx.intakes.get(intake_id)
    assert stored is not None and stored["status"] == "draft"


async def test_submission_publishes_intake_completed_with_codes_and_scores() -> None:
    ctx = samples.context()
    intake_id = await draft(ctx, **samples.complete_sections())
    submitted = await submit(ctx, intake_id)

    assert submitted["status"] == "submitted"
    assert submitted["result"]["phq9"] == {"total": 8, "severity": "mild", "item9": 0}
    assert submitted["result"]["gad7"] == {"total": 14, "severity": "moderate"}
    assert submitted["result"]["risk_level"] == "none"
    (event,) = events_of(ctx)
    assert isinstance(event.data, IntakeCompleted)
    assert event.data.goals == ["reduce_panic"]
    assert [w.day for w in event.data.availability] == ["tue"]
    assert event.envelope.correlation_id == intake_id


async def test_a_positive_screen_publishes_risk_flagged_first_in_the_same_journey() -> None:
    ctx = samples.context()
    intake_id = await draft(ctx, **samples.complete_sections(**samples.HIGH_RISK))
    submitted = await submit(ctx, intake_id)

    assert submitted["result"]["risk_level"] == "high"
    flagged, completed = events_of(ctx)
    assert isinstance(flagged.data, RiskFlagged) and isinstance(completed.data, IntakeCompleted)
    assert flagged.data.reasons == list(submitted["result"]["risk_reasons"])
    assert flagged.data.intake_id == intake_id
    assert flagged.envelope.correlation_id == completed.envelope.correlation_id == intake_id


async def test_submitting_twice_returns_the_same_answer_and_publishes_nothing_new() -> None:
    clock = ManualClock()
    ctx = samples.context(clock=clock)
    intake_id = await draft(ctx, **samples.complete_sections())
    first = await submit(ctx, intake_id)
    clock.advance(timedelta(minutes=5))
    second = await submit(ctx, intake_id)
    assert second["result"] == first["result"]
    assert second["submitted_at"] == first["submitted_at"]
    assert len(events_of(ctx)) == 1


async def test_an_incomplete_intake_is_refused_with_every_missing_field_and_stays_a_draft() -> None:
    ctx = samples.context()
    intake_id = await draft(ctx, phq9=[0] * 8 + [1])
    with pytest.raises(Invalid) as refused:
        await submit(ctx, intake_id)
    fields = [error.field for error in refused.value.errors]
    assert fields == ["jurisdiction", "timezone", "languages", "concerns", "gad7", "availability", "cssrs"]
    stored = await ctx.intakes.get(intake_id)
    assert stored is not None and stored["status"] == "draft"
    assert events_of(ctx) == []


async def test_sections_saved_later_complete_the_draft() -> None:
    ctx = samples.context()
    intake_id = await draft(ctx, concerns=["anxiety"])
    changes = IntakeSections.model_validate(samples.complete_sections())
    await save(ctx, intake_id, changes, changes.model_fields_set)
    submitted = await submit(ctx, intake_id)
    assert submitted["status"] == "submitted"


async def test_a_section_saved_as_null_is_cleared() -> None:
    ctx = samples.context()
    intake_id = await draft(ctx, **samples.complete_sections())
    saved = await save(ctx, intake_id, IntakeSections.model_validate({"history": None}), {"history"})
    assert saved["sections"]["history"] is None
    assert saved["sections"]["concerns"] == ["anxiety", "stress"]


async def test_saving_after_submission_is_a_conflict() -> None:
    ctx = samples.context()
    intake_id = await draft(ctx, **samples.complete_sections())
    await submit(ctx, intake_id)
    changes = IntakeSections.model_validate({"concerns": ["grief_loss"]})
    with pytest.raises(Conflict):
        await save(ctx, intake_id, changes, {"concerns"})
    stored = await ctx.intakes.get(intake_id)
    assert stored is not None and stored["sections"]["concerns"] == ["anxiety", "stress"]


async def test_free_text_is_sealed_in_the_stored_draft() -> None:
    ctx = samples.context()
    intake_id = await draft(ctx, **samples.complete_sections())
    stored = await ctx.intakes.get(intake_id)
    assert samples.BACKGROUND not in repr(stored)
    assert samples.GOAL_TEXT not in repr(stored)
    assert "sertraline" not in repr(stored)
