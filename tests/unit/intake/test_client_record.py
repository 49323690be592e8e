"""The client's record: every change idempotent, and stored as the same document it was read from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from services.intake.domain.client_record import ClientRecord
from services.intake.store.client_records import (
    client_record,
    document_of,
    record_acknowledgement,
    record_care_event,
    record_intake,
    record_of,
    record_plan_version,
)
from shared.care.relationship import CareState
from shared.events.models import TreatmentPlanUpdated
from tests.support.fakes import InMemoryDocuments, ManualClock
from tests.unit.intake import samples

CLIENT, THERAPIST = "client-1", "therapist-1"
NOW = ManualClock()()
EARLIER = NOW - timedelta(hours=1)

IN_CARE = ClientRecord(CLIENT).following(
    [
        (samples.accepted(CLIENT, THERAPIST), EARLIER),
        (samples.attended(CLIENT, THERAPIST, "held"), EARLIER + timedelta(minutes=1)),
    ]
)


def completed_plan(version: int) -> TreatmentPlanUpdated:
    return TreatmentPlanUpdated.model_validate(
        {
            "client_id": CLIENT,
            "therapist_id": THERAPIST,
            "version": version,
            "status": "completed",
            "approach": "cbt",
            "session_cadence": "weekly",
            "check_in_interval_days": 14,
            "goals": [],
            "updated_at": NOW,
        }
    )


@pytest.mark.parametrize(
    ("record", "change", "changed"),
    [
        pytest.param(ClientRecord(CLIENT), lambda r: r.with_intake("i-1"), True, id="new-intake"),
        pytest.param(
            ClientRecord(CLIENT, intake_ids=("i-1",)),
            lambda r: r.with_intake("i-1"),
            False,
            id="intake-again",
        ),
        pytest.param(ClientRecord(CLIENT), lambda r: r.with_check_in("c-1"), True, id="new-check-in"),
        pytest.param(
            ClientRecord(CLIENT, check_in_ids=("c-1",)),
            lambda r: r.with_check_in("c-1"),
            False,
            id="check-in-again",
        ),
        pytest.param(
            ClientRecord(CLIENT),
            lambda r: r.following([(samples.booked(CLIENT, THERAPIST, by="system"), NOW)]),
            False,
            id="booking-that-is-no-choice",
        ),
        pytest.param(
            ClientRecord(CLIENT),
            lambda r: r.following([(samples.accepted(CLIENT, THERAPIST), NOW)]),
            True,
            id="accepted",
        ),
        pytest.param(ClientRecord(CLIENT), lambda r: r.with_plan_version(1), True, id="first-version"),
        pytest.param(
            ClientRecord(CLIENT, plan_version=2), lambda r: r.with_plan_version(1), False, id="older-version"
        ),
        pytest.param(
            ClientRecord(CLIENT, plan_version=2), lambda r: r.with_plan_version(2), False, id="same-version"
        ),
        pytest.param(
            ClientRecord(CLIENT), lambda r: r.acknowledging(1, NOW), True, id="first-acknowledgement"
        ),
        pytest.param(
            ClientRecord(CLIENT).acknowledging(1, EARLIER),
            lambda r: r.acknowledging(1, NOW),
            False,
            id="acknowledged-again",
        ),
    ],
)
def test_a_change_that_changes_nothing_returns_an_equal_record(
    record: ClientRecord, change: Callable[[ClientRecord], ClientRecord], changed: bool
) -> None:
    assert (change(record) != record) is changed


def test_a_completed_version_known_already_still_ends_the_care_it_completes() -> None:
    """A writer crashed before updating the record: the next write folds its event in."""
    record = IN_CARE.with_plan_version(2)
    caught_up = record.with_plan_version(2, [(completed_plan(2), NOW)])
    assert caught_up.plan_version == 2
    assert caught_up.care.state_of(THERAPIST, NOW) is CareState.ended
    assert record.care.state_of(THERAPIST, NOW) is CareState.in_care


def test_the_first_acknowledgement_of_a_version_stands() -> None:
    record = ClientRecord(CLIENT).acknowledging(1, EARLIER).acknowledging(1, NOW).acknowledging(2, NOW)
    assert (record.acknowledged_at(1), record.acknowledged_at(2), record.acknowledged_at(3)) == (
        EARLIER,
        NOW,
        None,
    )


def test_the_document_maps_back_to_the_same_record() -> None:
    record = IN_CARE.with_intake("i-1").with_check_in("c-1").with_plan_version(3).acknowledging(3, NOW)
    document = document_of(record, {"_id": CLIENT})
    assert document["_id"] == CLIENT and document["plan_acknowledgements"] == {"3": NOW}
    assert record_of(document) == record


async def test_writes_happen_only_when_the_record_changes() -> None:
    clients = InMemoryDocuments("clients")
    assert (
        await clients.upsert(
            CLIENT, record_care_event(CLIENT, samples.booked(CLIENT, THERAPIST, by="system"), NOW)
        )
        is None
    )
    await clients.upsert(CLIENT, record_intake(CLIENT, "i-1"))
    await clients.upsert(CLIENT, record_intake(CLIENT, "i-1"))
    await clients.upsert(CLIENT, record_plan_version(CLIENT, 1))
    await clients.upsert(CLIENT, record_acknowledgement(CLIENT, 1, NOW))
    await clients.upsert(CLIENT, record_acknowledgement(CLIENT, 1, NOW + timedelta(hours=1)))
    record = await client_record(clients, CLIENT)
    assert record == ClientRecord(CLIENT, intake_ids=("i-1",), plan_version=1).acknowledging(1, NOW)
    assert await client_record(clients, "client-2") == ClientRecord("client-2")
