"""Drafts, saving sections and submitting an intake, on the in-memory fakes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.intake.commands.create_intake import create_intake
from services.intake.commands.refusals import Conflict, InvalidFields
from services.intake.commands.save_intake_sections import save_intake_sections
from services.intake.commands.submit_intake import submit_intake
from services.intake.domain.intake import IntakeSections, NewIntake
from services.intake.store import IntakeStores
from shared.events.models import IntakeCompleted, RiskFlagged
from tests.support.fakes import InMemoryDocuments, ManualClock
from tests.unit.intake import samples

CLIENT = {"subject": "client-1", "role": "client"}


async def draft(stores: IntakeStores, cipher: Any, clock: ManualClock, **sections: Any) -> str:
    new = NewIntake.model_validate({"client_id": "client-1", **sections})
    created = await create_intake(
        stores, cipher, new, fields=new.model_fields_set, created_by=CLIENT, now=clock()
    )
    return str(created["_id"])


def events_of(stores: IntakeStores) -> list[Any]:
    intakes = stores.intakes
    assert isinstance(intakes, InMemoryDocuments)
    return intakes.events


async def test_a_draft_is_listed_on_the_clients_record() -> None:
    stores, cipher, clock = samples.stores(), samples.cipher(), ManualClock()
    intake_id = await draft(stores, cipher, clock, concerns=["grief_loss"])
    record = await stores.clients.get("client-1")
    assert record is not None and record["intake_ids"] == [intake_id]
    stored = await stores.intakes.get(intake_id)
    assert stored is not None and stored["status"] == "draft"


async def test_submission_publishes_intake_completed_with_codes_and_scores() -> None:
    stores, cipher, clock = samples.stores(), samples.cipher(), ManualClock()
    intake_id = await draft(stores, cipher, clock, **samples.complete_sections())
    submitted = await submit_intake(stores, cipher, intake_id, now=clock())

    assert submitted["status"] == "submitted"
    assert submitted["result"]["phq9"] == {"total": 8, "severity": "mild", "item9": 0}
    assert submitted["result"]["gad7"] == {"total": 14, "severity": "moderate"}
    assert submitted["result"]["risk_level"] == "none"
    (event,) = events_of(stores)
    assert isinstance(event.data, IntakeCompleted)
    assert event.data.goals == ["reduce_panic"]
    assert [w.day for w in event.data.availability] == ["tue"]
    assert event.envelope.correlation_id == intake_id


async def test_a_positive_screen_publishes_risk_flagged_first_in_the_same_journey() -> None:
    stores, cipher, clock = samples.stores(), samples.cipher(), ManualClock()
    intake_id = await draft(stores, cipher, clock, **samples.complete_sections(**samples.HIGH_RISK))
    submitted = await submit_intake(stores, cipher, intake_id, now=clock())

    assert submitted["result"]["risk_level"] == "high"
    flagged, completed = events_of(stores)
    assert isinstance(flagged.data, RiskFlagged) and isinstance(completed.data, IntakeCompleted)
    assert flagged.data.reasons == list(submitted["result"]["risk_reasons"])
    assert flagged.data.intake_id == intake_id
    assert flagged.envelope.correlation_id == completed.envelope.correlation_id == intake_id


async def test_submitting_twice_returns_the_same_answer_and_publishes_nothing_new() -> None:
    stores, cipher, clock = samples.stores(), samples.cipher(), ManualClock()
    intake_id = await draft(stores, cipher, clock, **samples.complete_sections())
    first = await submit_intake(stores, cipher, intake_id, now=clock())
    clock.advance(timedelta(minutes=5))
    second = await submit_intake(stores, cipher, intake_id, now=clock())
    assert second["result"] == first["result"]
    assert second["submitted_at"] == first["submitted_at"]
    assert len(events_of(stores)) == 1


async def test_an_incomplete_intake_is_refused_with_every_missing_field_and_stays_a_draft() -> None:
    stores, cipher, clock = samples.stores(), samples.cipher(), ManualClock()
    intake_id = await draft(stores, cipher, clock, phq9=[0] * 8 + [1])
    with pytest.raises(InvalidFields) as refused:
        await submit_intake(stores, cipher, intake_id, now=clock())
    fields = [error.field for error in refused.value.errors]
    assert fields == ["jurisdiction", "timezone", "languages", "concerns", "gad7", "availability", "cssrs"]
    stored = await stores.intakes.get(intake_id)
    assert stored is not None and stored["status"] == "draft"
    assert events_of(stores) == []


async def test_sections_saved_later_complete_the_draft() -> None:
    stores, cipher, clock = samples.stores(), samples.cipher(), ManualClock()
    intake_id = await draft(stores, cipher, clock, concerns=["anxiety"])
    changes = IntakeSections.model_validate(samples.complete_sections())
    await save_intake_sections(
        stores, cipher, intake_id, changes, fields=changes.model_fields_set, now=clock()
    )
    submitted = await submit_intake(stores, cipher, intake_id, now=clock())
    assert submitted["status"] == "submitted"


async def test_a_section_saved_as_null_is_cleared() -> None:
    stores, cipher, clock = samples.stores(), samples.cipher(), ManualClock()
    intake_id = await draft(stores, cipher, clock, **samples.complete_sections())
    changes = IntakeSections.model_validate({"history": None})
    saved = await save_intake_sections(stores, cipher, intake_id, changes, fields={"history"}, now=clock())
    assert saved["sections"]["history"] is None
    assert saved["sections"]["concerns"] == ["anxiety", "stress"]


async def test_saving_after_submission_is_a_conflict() -> None:
    stores, cipher, clock = samples.stores(), samples.cipher(), ManualClock()
    intake_id = await draft(stores, cipher, clock, **samples.complete_sections())
    await submit_intake(stores, cipher, intake_id, now=clock())
    changes = IntakeSections.model_validate({"concerns": ["grief_loss"]})
    with pytest.raises(Conflict):
        await save_intake_sections(stores, cipher, intake_id, changes, fields={"concerns"}, now=clock())
    stored = await stores.intakes.get(intake_id)
    assert stored is not None and stored["sections"]["concerns"] == ["anxiety", "stress"]


async def test_free_text_is_sealed_in_the_stored_draft() -> None:
    stores, cipher, clock = samples.stores(), samples.cipher(), ManualClock()
    intake_id = await draft(stores, cipher, clock, **samples.complete_sections())
    stored = await stores.intakes.get(intake_id)
    assert samples.BACKGROUND not in repr(stored)
    assert samples.GOAL_TEXT not in repr(stored)
    assert "sertraline" not in repr(stored)
