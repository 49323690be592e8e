"""A property-based fuzz of the scheduling API from its own OpenAPI document finds no 5xx.

Every `/v1` operation of the running app's document, drawn by Schemathesis and sent
in-process to the service on the real broker and database with a valid token of a drawn
role (`tests/support/api_fuzz.py`). Half of the drawn path ids are swapped for records
that exist (a therapist with availability, a client proposed to them with a session
booked, the client's calendar feed and its secret token), so fuzzed bodies reach the
commands. The document has no OpenAPI links: no stateful run.
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
from tests.integration.scheduling.service import (
    ADMIN,
    RunningScheduling,
    bearer,
    booked_client,
)
from tests.support.api_fuzz import FUZZ_SETTINGS, FuzzTally, draw_caller, draw_case, requests_of

TALLY = FuzzTally("scheduling")


@dataclass(frozen=True)
class Seeded:
    """Records that exist, so fuzzed requests can reach past the lookup."""

    client_id: str
    therapist_id: str
    session_id: str
    feed_id: str
    token: str
    requests: SearchStrategy[Any]

    def path_ids(self) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "therapist_id": self.therapist_id,
            "session_id": self.session_id,
            "feed_id": self.feed_id,
            "token": self.token,
        }


@pytest.fixture(scope="module")
async def seeded(scheduling: RunningScheduling) -> AsyncIterator[Seeded]:
    booked = await booked_client(scheduling)
    yield Seeded(
        booked.client_id,
        booked.therapist_id,
        booked.session_id,
        booked.feed_id,
        booked.token,
        requests_of(scheduling.app),
    )
    TALLY.write()


@FUZZ_SETTINGS
@given(data=st.data())
async def test_fuzzed_requests_from_the_openapi_document_never_get_a_5xx(
    scheduling: RunningScheduling, seeded: Seeded, data: st.DataObject
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
    await TALLY.send(scheduling.http, case, auth)
