"""Intake's authorization matrix: every route of its OpenAPI document against every kind of caller.

One row per route says what each caller gets (`tests/support/authorization_matrix.py`):
`OK` is allowed (anything but 401/403/404), a number the refusal expected. No token, a
forged or an expired token get 401 everywhere but on the public routes. A caller without
a claim on the client gets the uniform 404 of what does not exist (`shared/care/access.py`)
where the client's record decides, 403 where the route is role-gated (a plan is written by
clinicians, admins and services; only the client acknowledges it; break-glass is the
on-call clinician's; data rights are admins'). A service without scopes gets 403 naming
the scope. A new route the matrix does not name fails the test.

The records exist: a client in care with a submitted intake, a draft, a plan and a
pending check-in, so an allowed caller reaches the route's work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from shared.http.auth import Role
from shared.http.scopes import INTAKE_READ, INTAKE_WRITE, PLANS_WRITE
from tests.integration.intake.service import (
    ADMIN,
    AUTH,
    RunningIntake,
    as_client,
    due,
    in_care,
    new_id,
    pending_check_in,
)
from tests.support.authorization_matrix import (
    OK,
    PROBES,
    MatrixTally,
    Person,
    Row,
    Tokens,
    assert_the_matrix_names_every_route,
    walk,
)
from tests.support.kafka import publish_events
from tests.unit.intake.samples import complete_sections

PUBLIC = [*PROBES]

IN, C, T = "/v1/intakes/{intake_id}", "/v1/clients/{client_id}", "/v1/clients/{client_id}/treatment-plan"

A = "/v1/admin/clients/{client_id}"

# fmt: off
MATRIX = [
    #   method   route template                           owner other clin. svc- svc+ admin scope
    Row("POST",  "/v1/intakes",                           OK,  404, 404, 403, OK,  OK,  INTAKE_WRITE),
    Row("GET",   IN,                                      OK,  404, 404, 403, OK,  OK,  INTAKE_READ),
    Row("PATCH", IN,                                      OK,  404, 404, 403, OK,  OK,  INTAKE_WRITE),
    Row("POST",  f"{IN}/submit",                          OK,  404, 404, 403, OK,  OK,  INTAKE_WRITE),
    Row("GET",   f"{IN}/fhir",                            OK,  404, 404, 403, OK,  OK,  INTAKE_READ),
    Row("GET",   f"{C}/intakes",                          OK,  404, 404, 403, OK,  OK,  INTAKE_READ),
    Row("GET",   f"{C}/referral",                         OK,  404, 404, 403, OK,  OK,  INTAKE_READ),
    Row("PUT",   T,                                       403, 403, 404, 403, OK,  OK,  PLANS_WRITE),
    Row("GET",   T,                                       OK,  404, 404, 403, OK,  OK,  INTAKE_READ),
    Row("GET",   f"{T}/draft",                            403, 403, 404, 403, OK,  OK,  PLANS_WRITE),
    Row("GET",   f"{T}/versions",                         OK,  404, 404, 403, OK,  OK,  INTAKE_READ),
    Row("GET",   f"{T}/versions/{{version}}",             OK,  404, 404, 403, OK,  OK,  INTAKE_READ),
    Row("POST",  f"{T}/acknowledgement",                  OK,  404, 403, 403, 403, 403, None),
    Row("GET",   f"{C}/check-ins",                        OK,  404, 404, 403, OK,  OK,  INTAKE_READ),
    Row("GET",   "/v1/check-ins/{check_in_id}",           OK,  404, 404, 403, OK,  OK,  INTAKE_READ),
    Row("POST",  "/v1/check-ins/{check_in_id}/responses", OK,  404, 404, 403, OK,  OK,  INTAKE_WRITE),
    Row("POST",  f"{C}/break-glass",                      403, 403, 404, 403, 403, 403, None),
    Row("GET",   f"{A}/export",                           403, 403, 403, 403, 403, OK,  None),
    Row("POST",  f"{A}/erasure",                          403, 403, 403, 403, 403, OK,  None),  # last
]
# fmt: on
# Break-glass is the on-call clinician's alone (this clinician is on no rota: the 404 of its refusal);
# admins and services read the record already, so the role refuses them.

PLAN: dict[str, Any] = {
    "approach": "cbt",
    "goals": [{"code": "calmer", "target": {"measure": "gad7", "comparison": "below", "value": 8}}],
    "session_cadence": "weekly",
    "check_in_interval_days": 14,
}

BODIES = {
    ("POST", "/v1/intakes"): lambda ids: {"client_id": ids["client_id"]},
    ("PATCH", IN): lambda ids: {"concerns": ["anxiety"]},
    ("PUT", T): lambda ids: PLAN,  # the current plan again: nothing changes for the rows after it
    ("POST", f"{T}/acknowledgement"): lambda ids: {"version": 1},
    ("POST", "/v1/check-ins/{check_in_id}/responses"): lambda ids: {
        "phq9": [1, 1, 1, 1, 1, 1, 1, 1, 0],
        "gad7": [1, 1, 1, 1, 1, 0, 0],
        "goal_progress": [{"goal": "calmer", "score": 6}],
    },
    ("POST", f"{C}/break-glass"): lambda ids: {"reason": "paged for high risk; no answer on the phone"},
    ("POST", f"{A}/erasure"): lambda ids: {"reason": "GDPR Art. 17, ticket DPO-1"},
}

TALLY = MatrixTally("intake")


@dataclass(frozen=True)
class Seeded:
    client_id: str
    submitted_id: str
    draft_id: str
    check_in_id: str


@pytest.fixture(scope="module")
async def seeded(intake: RunningIntake) -> AsyncIterator[Seeded]:
    """A client in care: a submitted intake, a draft, the plan (version 1) and a pending check-in."""
    client_id, therapist_id = new_id("client"), new_id("therapist")
    created = await intake.http.post(
        "/v1/intakes", json={"client_id": client_id, **complete_sections()}, headers=as_client(client_id)
    )
    submitted_id = created.json()["id"]
    submitted = await intake.http.post(f"/v1/intakes/{submitted_id}/submit", headers=as_client(client_id))
    assert submitted.status_code == 200, submitted.text
    draft = await intake.http.post("/v1/intakes", json={"client_id": client_id}, headers=ADMIN)
    await in_care(intake, client_id, therapist_id)
    plan = await intake.http.put(f"/v1/clients/{client_id}/treatment-plan", json=PLAN, headers=ADMIN)
    assert plan.status_code == 201, plan.text
    check_in_id = "ci-" + client_id
    await publish_events(intake.kafka, due(client_id, therapist_id, check_in_id, submitted_id))
    await pending_check_in(intake, client_id, check_in_id)
    yield Seeded(client_id, submitted_id, draft.json()["id"], check_in_id)
    TALLY.write()


async def test_the_matrix_names_every_route_of_the_openapi_document(intake: RunningIntake) -> None:
    assert_the_matrix_names_every_route(intake.app, [*MATRIX, *PUBLIC])


async def test_every_route_answers_each_caller_as_its_matrix_row_says(
    intake: RunningIntake, seeded: Seeded
) -> None:
    tokens = Tokens(
        AUTH,
        {"client": Person(seeded.client_id, Role.client)},
        other_client=new_id("client"),
        stranger=new_id("therapist"),
    )
    ids = {
        "client_id": seeded.client_id,
        "intake_id": seeded.submitted_id,
        "check_in_id": seeded.check_in_id,
        "version": "1",
    }
    await walk(
        intake.http,
        [*PUBLIC, *MATRIX],
        ids=ids,
        ids_for={("PATCH", IN): {"intake_id": seeded.draft_id}},
        bodies=BODIES,
        tokens=tokens,
        tally=TALLY,
    )
    assert TALLY.unexpected == [], "\n".join(TALLY.unexpected)
