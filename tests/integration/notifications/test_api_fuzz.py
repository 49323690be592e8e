"""A property-based fuzz of the notifications API from its own OpenAPI document finds no 5xx.

Every `/v1` operation of the running app's document, drawn by Schemathesis and sent
in-process to the service on the real broker and database with a valid token of a drawn
role (`tests/support/api_fuzz.py`). Half of the drawn path ids are swapped for records
that exist (a registered client with an inbox entry: the crisis resources a risk flag
sent), so fuzzed bodies reach the commands. The document has no OpenAPI links: no
stateful run.
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
from tests.integration.notifications.service import (
    ADMIN,
    ROTA,
    SERVICE,
    RunningNotifications,
    bearer,
    client_with_inbox_entry,
)
from tests.support.api_fuzz import FUZZ_SETTINGS, FuzzTally, draw_caller, draw_case, requests_of

TALLY = FuzzTally("notifications")


@dataclass(frozen=True)
class Seeded:
    """Records that exist, so fuzzed requests can reach past the lookup."""

    client_id: str
    notification_id: str
    requests: SearchStrategy[Any]

    def path_ids(self) -> dict[str, str]:
        return {
            "recipient_id": self.client_id,
            "client_id": self.client_id,
            "notification_id": self.notification_id,
        }


@pytest.fixture(scope="module")
async def seeded(notifications: RunningNotifications) -> AsyncIterator[Seeded]:
    seeded_client = await client_with_inbox_entry(notifications)
    yield Seeded(seeded_client.client_id, seeded_client.notification_id, requests_of(notifications.app))
    TALLY.write()


@FUZZ_SETTINGS
@given(data=st.data())
async def test_fuzzed_requests_from_the_openapi_document_never_get_a_5xx(
    notifications: RunningNotifications, seeded: Seeded, data: st.DataObject
) -> None:
    case = draw_case(data, seeded.requests, seeded.path_ids())
    auth = draw_caller(
        data,
        {
            "admin": ADMIN,
            "client": bearer(seeded.client_id, Role.client),
            "clinician": bearer(ROTA[0], Role.clinician),
            "service": SERVICE,
        },
    )
    await TALLY.send(notifications.http, case, auth)
