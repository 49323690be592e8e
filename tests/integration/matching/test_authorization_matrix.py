"""Matching's authorization matrix: every route of its OpenAPI document against every kind of caller.

One row per route says what each caller gets (`tests/support/authorization_matrix.py`):
`OK` is allowed (anything but 401/403/404), a number the refusal expected, `NA` no such
caller (the directory listing addresses nobody). No token, a forged or an expired token get
401 everywhere but on the public routes. Reading a client's proposals follows the care
relationship: a caller without a claim gets the uniform 404 of what does not exist
(`shared/care/access.py`), as does a client choosing on someone else's proposal; choosing
is role-gated (a clinician never chooses for a client: 403), the directory entry is the
therapist's own (its owner here), the directory is written by admins only, and data rights
are admins'. A service without scopes gets 403 naming the scope. A new route the matrix
does not name fails the test.

The records exist: a therapist in the directory of a jurisdiction of the test's own, and a
client with an open proposal from them, so an allowed caller reaches the route's work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from shared.http.auth import Role
from shared.http.scopes import MATCHES_READ, MATCHES_WRITE, THERAPISTS_READ
from tests.integration.matching.service import AUTH, Place, RunningMatching, new_id
from tests.support.authorization_matrix import (
    NA,
    OK,
    PROBES,
    MatrixTally,
    Person,
    Row,
    Tokens,
    assert_the_matrix_names_every_route,
    walk,
)

PUBLIC = [*PROBES]

TH, M = "/v1/therapists/{therapist_id}", "/v1/matches/{match_id}"

A = "/v1/admin/clients/{client_id}"

# fmt: off
MATRIX = [
    #   method  route template                     owner other clin. svc- svc+ admin scope
    Row("PUT",  TH,                                403, 403, 403, 403, 403, OK, None),
    Row("GET",  TH,                                OK,  403, 403, 403, OK,  OK, THERAPISTS_READ),
    Row("GET",  "/v1/therapists",                  NA,  403, 403, 403, OK,  OK, THERAPISTS_READ),
    Row("GET",  "/v1/clients/{client_id}/matches", OK,  404, 404, 403, OK,  OK, MATCHES_READ),
    Row("GET",  M,                                 OK,  404, 404, 403, OK,  OK, MATCHES_READ),
    Row("POST", f"{M}/accept",                     OK,  404, 403, 403, OK,  OK, MATCHES_WRITE),
    Row("POST", f"{M}/decline",                    OK,  404, 403, 403, OK,  OK, MATCHES_WRITE),
    Row("POST", "/v1/clients/{client_id}/switch",  OK,  404, 403, 403, OK,  OK, MATCHES_WRITE),
    Row("GET",  f"{A}/export",                     403, 403, 403, 403, 403, OK, None),
    Row("POST", f"{A}/erasure",                    403, 403, 403, 403, 403, OK, None),  # last
]
# fmt: on

TALLY = MatrixTally("matching")


@dataclass(frozen=True)
class Seeded:
    client_id: str
    therapist_id: str
    match_id: str
    profile: dict[str, Any]


@pytest.fixture(scope="module")
async def seeded(matching: RunningMatching) -> AsyncIterator[Seeded]:
    """A therapist in a place of the test's own, and a client they were proposed to."""
    place, therapist_id = Place(), new_id("t")
    await matching.put_therapists(place, (therapist_id, {}))
    data, proposal = await matching.propose(place)
    yield Seeded(data.client_id, therapist_id, proposal["match_id"], place.therapist())
    TALLY.write()


async def test_the_matrix_names_every_route_of_the_openapi_document(matching: RunningMatching) -> None:
    assert_the_matrix_names_every_route(matching.app, [*MATRIX, *PUBLIC])


async def test_every_route_answers_each_caller_as_its_matrix_row_says(
    matching: RunningMatching, seeded: Seeded
) -> None:
    people = {
        "client": Person(seeded.client_id, Role.client),
        "therapist": Person(seeded.therapist_id, Role.clinician),
    }
    tokens = Tokens(AUTH, people, other_client=new_id("client"), stranger=new_id("t"))
    ids = {"client_id": seeded.client_id, "therapist_id": seeded.therapist_id, "match_id": seeded.match_id}
    bodies = {
        ("PUT", TH): lambda ids: seeded.profile,  # the profile as it is: the rows after it see the same
        ("POST", f"{A}/erasure"): lambda ids: {"reason": "GDPR Art. 17, ticket DPO-1"},
    }
    await walk(matching.http, [*PUBLIC, *MATRIX], ids=ids, bodies=bodies, tokens=tokens, tally=TALLY)
    assert TALLY.unexpected == [], "\n".join(TALLY.unexpected)
