"""A property-based fuzz of the matching API from its own OpenAPI document finds no 5xx.

Every `/v1` operation of the running app's document, drawn by Schemathesis and sent
in-process to the service on the real broker and database with a valid token of a drawn
role (`tests/support/api_fuzz.py`). Half of the drawn path ids are swapped for records
that exist (a therapist in the directory, a client with an open proposal from them), so
fuzzed bodies reach the commands. The document has no OpenAPI links: no stateful run.
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
from tests.integration.matching.service import ADMIN, Place, RunningMatching, bearer, new_id
from tests.support.api_fuzz import FUZZ_SETTINGS, FuzzTally, draw_caller, draw_case, requests_of

TALLY = FuzzTally("matching")


@dataclass(frozen=True)
class Seeded:
    """Records that exist, so fuzzed requests can reach past the lookup."""

    client_id: str
    therapist_id: str
    match_id: str
    requests: SearchStrategy[Any]

    def path_ids(self) -> dict[str, str]:
        return {"client_id": self.client_id, "therapist_id": self.therapist_id, "match_id": self.match_id}


@pytest.fixture(scope="module")
async def seeded(matching: RunningMatching) -> AsyncIterator[Seeded]:
    place, therapist_id = Place(), new_id("t")
    await matching.put_therapists(place, (therapist_id, {}))
    data, proposal = await matching.propose(place)
    yield Seeded(data.client_id, therapist_id, proposal["match_id"], requests_of(matching.app))
    TALLY.write()


@FUZZ_SETTINGS
@given(data=st.data())
async def test_fuzzed_requests_from_the_openapi_document_never_get_a_5xx(
    matching: RunningMatching, seeded: Seeded, data: st.DataObject
) -> None:
    case = draw_case(data, seeded.requests, seeded.path_ids())
    auth = draw_caller(
        data,
        {
            "admin": ADMIN,
            "client": bearer(seeded.client_id, Role.client),
            "clinician": bearer(seeded.therapist_id, Role.clinician),
            "service": bearer("platform-web", Role.service),
        },
    )
    await TALLY.send(matching.http, case, auth)
