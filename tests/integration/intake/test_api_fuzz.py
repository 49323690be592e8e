"""A property-based fuzz of the intake API from its own OpenAPI document finds no 5xx.

Schemathesis turns every `/v1` operation of the running app's OpenAPI document into a
Hypothesis strategy of requests (bodies, path ids, queries); each drawn request is sent
in-process to the service running on the real broker and database, with a valid token
of a drawn role. Half of the drawn path ids are swapped for records that exist (a
draft, a client in care, a pending check-in), so fuzzed bodies reach the commands
rather than stopping at a 404. The example count is bounded to keep the run short.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from shared.http.auth import Role
from tests.integration.intake.service import (
    ADMIN,
    RunningIntake,
    as_client,
    bearer,
    due,
    in_care,
    new_id,
    pending_check_in,
)
from tests.support.api_fuzz import FUZZ_SETTINGS, FuzzTally, draw_caller, draw_case, requests_of
from tests.support.kafka import publish_events
from tests.unit.intake.samples import complete_sections

PROBLEM_JSON = "application/problem+json"


TALLY = FuzzTally("intake")


@dataclass(frozen=True)
class Seeded:
    """Records that exist, so fuzzed requests can reach past the lookup."""

    client_id: str
    therapist_id: str
    intake_id: str
    check_in_id: str
    requests: SearchStrategy[Any]

    def path_ids(self) -> dict[str, str]:
        return {"client_id": self.client_id, "intake_id": self.intake_id, "check_in_id": self.check_in_id}


@pytest.fixture(scope="module")
async def seeded(intake: RunningIntake) -> AsyncIterator[Seeded]:
    client_id, therapist_id = new_id("client"), new_id("therapist")
    submitted = await intake.http.post(
        "/v1/intakes", json={"client_id": client_id, **complete_sections()}, headers=as_client(client_id)
    )
    assert (
        await intake.http.post(f"/v1/intakes/{submitted.json()['id']}/submit", headers=ADMIN)
    ).status_code == 200
    draft = await intake.http.post("/v1/intakes", json={"client_id": client_id}, headers=ADMIN)
    check_in_id = "ci-" + client_id
    await in_care(intake, client_id, therapist_id)
    await publish_events(intake.kafka, due(client_id, therapist_id, check_in_id, submitted.json()["id"]))
    await pending_check_in(intake, client_id, check_in_id)
    yield Seeded(client_id, therapist_id, draft.json()["id"], check_in_id, requests_of(intake.app))
    TALLY.write()


@FUZZ_SETTINGS
@given(data=st.data())
async def test_fuzzed_requests_from_the_openapi_document_never_get_a_5xx(
    intake: RunningIntake, seeded: Seeded, data: st.DataObject
) -> None:
    case = draw_case(data, seeded.requests, seeded.path_ids())
    auth = draw_caller(
        data,
        {
            "admin": ADMIN,
            "client": as_client(seeded.client_id),
            "clinician": bearer(seeded.therapist_id, Role.clinician),
        },
    )
    await TALLY.send(intake.http, case, auth)
