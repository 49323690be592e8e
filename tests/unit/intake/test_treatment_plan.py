"""Writing the treatment plan: every change a new version with one event, on the fakes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from services.intake.commands.write_treatment_plan import TreatmentPlanInput, write_treatment_plan
from services.intake.store import IntakeStores
from services.intake.store.treatment_plans import opened_plan
from shared.events.models import TreatmentPlanUpdated
from shared.storage import Document
from shared.storage.documents import Revision
from tests.support.fakes import InMemoryDocuments, ManualClock
from tests.unit.intake import samples

WRITER = {"subject": "therapist-1", "role": "clinician"}
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


async def write(stores: IntakeStores, cipher: Any, plan: dict[str, Any]) -> tuple[Document, bool]:
    return await write_treatment_plan(
        stores,
        cipher,
        "client-1",
        TreatmentPlanInput.model_validate(plan),
        therapist_id="therapist-1",
        written_by=WRITER,
        now=ManualClock()(),
    )


def plan_events(stores: IntakeStores) -> list[Any]:
    assert isinstance(stores.plans, InMemoryDocuments)
    return stores.plans.events


async def test_the_first_plan_is_version_1_and_publishes_its_codes() -> None:
    stores, cipher = samples.stores(), samples.cipher()
    version, created = await write(stores, cipher, PLAN)
    assert created and version["_id"] == "client-1:v1"
    (event,) = plan_events(stores)
    assert isinstance(event.data, TreatmentPlanUpdated)
    assert (event.data.version, event.data.status, event.data.goals) == (1, "active", ["reduce_panic"])
    assert event.data.check_in_interval_days == 14
    assert samples.GOAL_TEXT not in event.value().decode()
    record = await stores.clients.get("client-1")
    assert record is not None and record["plan_version"] == 1


async def test_every_change_is_a_new_version_and_old_ones_stay() -> None:
    stores, cipher = samples.stores(), samples.cipher()
    await write(stores, cipher, PLAN)
    version, created = await write(stores, cipher, {**PLAN, "session_cadence": "biweekly"})
    assert created and version["version"] == 2
    assert [e.data.version for e in plan_events(stores)] == [1, 2]
    first = await stores.plans.get("client-1:v1")
    assert first is not None and first["session_cadence"] == "weekly"


async def test_the_current_plan_sent_again_is_not_a_change() -> None:
    stores, cipher = samples.stores(), samples.cipher()
    await write(stores, cipher, PLAN)
    version, created = await write(stores, cipher, PLAN)
    assert not created and version["version"] == 1
    assert len(plan_events(stores)) == 1


async def test_completing_the_plan_is_published_so_care_can_end() -> None:
    stores, cipher = samples.stores(), samples.cipher()
    await write(stores, cipher, PLAN)
    await write(stores, cipher, {**PLAN, "status": "completed"})
    assert plan_events(stores)[-1].data.status == "completed"


async def test_goal_descriptions_are_sealed_and_open_for_readers() -> None:
    stores, cipher = samples.stores(), samples.cipher()
    version, _ = await write(stores, cipher, PLAN)
    assert samples.GOAL_TEXT not in repr(version)
    assert opened_plan(version, cipher)["goals"][0]["description"] == samples.GOAL_TEXT


async def test_a_version_taken_by_a_concurrent_writer_is_built_upon() -> None:
    """The record still says v0 while v1 exists: the writer probes forward and writes v2."""
    stores, cipher = samples.stores(), samples.cipher()
    await write(stores, cipher, PLAN)

    def forget(current: Document | None) -> Revision:
        assert current is not None
        return Revision({**current, "plan_version": 0})

    await stores.clients.upsert("client-1", forget)
    version, created = await write(stores, cipher, {**PLAN, "approach": "act"})
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
