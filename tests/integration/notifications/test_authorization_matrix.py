"""Notifications' authorization matrix: every route of its OpenAPI document against every kind of caller.

One row per route says what each caller gets (`tests/support/authorization_matrix.py`):
`OK` is allowed (anything but 401/403/404), a number the refusal expected. No token, a
forged or an expired token get 401 everywhere but on the public routes. This service keeps
no clinical record, so no care relationship opens anything: a recipient's routes are the
recipient's own (the owner here, a registered client), an admin's, or a service's holding
the scope (`recipients:contact` to set where messages go, `recipients:write` for the
rest); anyone else gets 403 before any lookup, whether the recipient exists or not.
Contact details are read by the recipient and admins only (no scope opens them), data
rights are admins'. A service without scopes gets 403 naming the scope. A new route the
matrix does not name fails the test.

The records exist: a registered client with an inbox entry (the crisis resources a risk
flag sent), so an allowed caller reaches the route's work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from shared.http.auth import Role
from shared.http.scopes import RECIPIENTS_CONTACT, RECIPIENTS_WRITE
from tests.integration.notifications.service import (
    AUTH,
    RunningNotifications,
    client_with_inbox_entry,
    new_id,
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

PUBLIC = [*PROBES]

R = "/v1/recipients/{recipient_id}"
N = f"{R}/notifications"

A = "/v1/admin/clients/{client_id}"

# fmt: off
MATRIX = [
    #   method  route template                   owner other clin. svc- svc+ admin scope
    Row("PUT",  R,                               OK,  403, 403, 403, OK,  OK, RECIPIENTS_CONTACT),
    Row("GET",  R,                               OK,  403, 403, 403, 403, OK, None),
    Row("PUT",  f"{R}/preferences",              OK,  403, 403, 403, OK,  OK, RECIPIENTS_WRITE),
    Row("GET",  f"{R}/preferences",              OK,  403, 403, 403, OK,  OK, RECIPIENTS_WRITE),
    Row("GET",  N,                               OK,  403, 403, 403, OK,  OK, RECIPIENTS_WRITE),
    Row("POST", f"{N}/{{notification_id}}/read", OK,  403, 403, 403, OK,  OK, RECIPIENTS_WRITE),
    Row("GET",  f"{R}/deliveries",               OK,  403, 403, 403, OK,  OK, RECIPIENTS_WRITE),
    Row("GET",  f"{A}/export",                   403, 403, 403, 403, 403, OK, None),
    Row("POST", f"{A}/erasure",                  403, 403, 403, 403, 403, OK, None),  # last
]
# fmt: on

TALLY = MatrixTally("notifications")


@dataclass(frozen=True)
class Seeded:
    client_id: str
    notification_id: str
    details: dict[str, Any]


@pytest.fixture(scope="module")
async def seeded(notifications: RunningNotifications) -> AsyncIterator[Seeded]:
    """A registered client with one inbox entry: the crisis resources a risk flag sent them."""
    seeded_client = await client_with_inbox_entry(notifications)
    yield Seeded(seeded_client.client_id, seeded_client.notification_id, seeded_client.details)
    TALLY.write()


async def test_the_matrix_names_every_route_of_the_openapi_document(
    notifications: RunningNotifications,
) -> None:
    assert_the_matrix_names_every_route(notifications.app, [*MATRIX, *PUBLIC])


async def test_every_route_answers_each_caller_as_its_matrix_row_says(
    notifications: RunningNotifications, seeded: Seeded
) -> None:
    recipient = Person(seeded.client_id, Role.client)
    tokens = Tokens(
        AUTH,
        {"recipient": recipient, "client": recipient},
        other_client=new_id("client"),
        stranger=new_id("therapist"),
    )
    ids = {
        "recipient_id": seeded.client_id,
        "client_id": seeded.client_id,
        "notification_id": seeded.notification_id,
    }
    bodies = {
        ("PUT", R): lambda ids: seeded.details,  # the same details: where messages go stays
        ("PUT", f"{R}/preferences"): lambda ids: {"quiet_hours": {"start": "22:00", "end": "07:00"}},
        ("POST", f"{A}/erasure"): lambda ids: {"reason": "GDPR Art. 17, ticket DPO-1"},
    }
    await walk(notifications.http, [*PUBLIC, *MATRIX], ids=ids, bodies=bodies, tokens=tokens, tally=TALLY)
    assert TALLY.unexpected == [], "\n".join(TALLY.unexpected)
