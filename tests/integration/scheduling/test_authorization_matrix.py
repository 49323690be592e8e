"""Scheduling's authorization matrix: every route of its OpenAPI document against every kind of caller.

One row per route says what each caller gets (`tests/support/authorization_matrix.py`):
`OK` is allowed (anything but 401/403/404), a number the refusal expected. No token, a
forged or an expired token get 401 everywhere but on the public routes (the probes, and a
calendar feed by its secret URL, whose token is the credential). A client's sessions and
calendar follow the care relationship: a caller without a claim gets the uniform 404 of
what does not exist (`shared/care/access.py`). Routes that name a person rather than read
a client's record are gated by who calls (403, whatever exists): booking is the client's
(or an admin's, or a service's), attendance the session's clinician's, a therapist's
availability, sessions and calendar the therapist's own (their owner here), calendar feeds
the owner's or an admin's (no scope opens them), data rights admins'. A therapist's
availability and free slots are open to every person signed in (a client books from
them) and to a service holding `therapists:read`. A service without scopes gets 403
naming the scope. A new route the matrix does not name fails the test.

The records exist: a therapist with availability, a client proposed to them with a session
booked, and a calendar feed of the client's, so an allowed caller reaches the route's work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from shared.http.auth import Role
from shared.http.scopes import AVAILABILITY_WRITE, SESSIONS_READ, SESSIONS_WRITE, THERAPISTS_READ
from tests.integration.scheduling.service import (
    ADMIN,
    AUTH,
    RunningScheduling,
    a_weekday_at,
    booked_client,
    new_id,
    weekdays,
)
from tests.support.authorization_matrix import (
    OK,
    PROBES,
    MatrixTally,
    Person,
    Public,
    Row,
    Tokens,
    assert_the_matrix_names_every_route,
    walk,
)

TH, S, C = "/v1/therapists/{therapist_id}", "/v1/sessions/{session_id}", "/v1/clients/{client_id}"
CLIENT_FEED, THERAPIST_FEED = f"{C}/calendar-feeds/{{feed_id}}", f"{TH}/calendar-feeds/{{feed_id}}"

PUBLIC = [*PROBES, Public("GET", "/v1/calendar-feeds/{token}.ics")]

A = "/v1/admin/clients/{client_id}"

# fmt: off
MATRIX = [
    #   method    route template          owner other clin. svc- svc+ admin scope
    Row("PUT",    f"{TH}/availability",   OK,  403, 403, 403, OK,  OK, AVAILABILITY_WRITE),
    Row("GET",    f"{TH}/availability",   OK,  OK,  OK,  403, OK,  OK, THERAPISTS_READ),
    Row("GET",    f"{TH}/slots",          OK,  OK,  OK,  403, OK,  OK, THERAPISTS_READ),
    Row("GET",    S,                      OK,  404, 404, 403, OK,  OK, SESSIONS_READ),
    Row("POST",   f"{S}/reschedule",      OK,  404, 404, 403, OK,  OK, SESSIONS_WRITE),
    Row("POST",   f"{S}/attendance",      403, 403, 404, 403, OK,  OK, SESSIONS_WRITE),
    Row("POST",   f"{S}/no-show",         403, 403, 404, 403, OK,  OK, SESSIONS_WRITE),
    Row("POST",   f"{S}/cancel",          OK,  404, 404, 403, OK,  OK, SESSIONS_WRITE),
    # after the cancel: the client books anew
    Row("POST",   "/v1/sessions",         OK,  403, 403, 403, OK,  OK, SESSIONS_WRITE),
    Row("GET",    f"{C}/sessions",        OK,  404, 404, 403, OK,  OK, SESSIONS_READ),
    Row("GET",    f"{TH}/sessions",       OK,  403, 403, 403, OK,  OK, SESSIONS_READ),
    Row("GET",    f"{C}/calendar.ics",    OK,  404, 404, 403, OK,  OK, SESSIONS_READ),
    Row("GET",    f"{TH}/calendar.ics",   OK,  403, 403, 403, OK,  OK, SESSIONS_READ),
    Row("POST",   f"{C}/calendar-feeds",  OK,  403, 403, 403, 403, OK, None),
    Row("GET",    f"{C}/calendar-feeds",  OK,  403, 403, 403, 403, OK, None),
    Row("DELETE", CLIENT_FEED,            OK,  403, 403, 403, 403, OK, None),
    Row("POST",   f"{TH}/calendar-feeds", OK,  403, 403, 403, 403, OK, None),
    Row("GET",    f"{TH}/calendar-feeds", OK,  403, 403, 403, 403, OK, None),
    Row("DELETE", THERAPIST_FEED,         OK,  403, 403, 403, 403, OK, None),
    Row("GET",    f"{A}/export",          403, 403, 403, 403, 403, OK, None),
    Row("POST",   f"{A}/erasure",         403, 403, 403, 403, 403, OK, None),  # last
]
# fmt: on

TALLY = MatrixTally("scheduling")


@dataclass(frozen=True)
class Seeded:
    client_id: str
    therapist_id: str
    session_id: str
    token: str


@pytest.fixture(scope="module")
async def seeded(scheduling: RunningScheduling) -> AsyncIterator[Seeded]:
    """A therapist with availability, a client proposed to them with a session booked, the client's feed."""
    booked = await booked_client(scheduling)
    yield Seeded(booked.client_id, booked.therapist_id, booked.session_id, booked.token)
    TALLY.write()


async def test_the_matrix_names_every_route_of_the_openapi_document(scheduling: RunningScheduling) -> None:
    assert_the_matrix_names_every_route(scheduling.app, [*MATRIX, *PUBLIC])


async def test_every_route_answers_each_caller_as_its_matrix_row_says(
    scheduling: RunningScheduling, seeded: Seeded
) -> None:
    people = {
        "client": Person(seeded.client_id, Role.client),
        "therapist": Person(seeded.therapist_id, Role.clinician),
    }
    tokens = Tokens(AUTH, people, other_client=new_id("c"), stranger=new_id("t"))

    def a_fresh_feed(owner: str) -> Callable[[], Awaitable[str]]:
        async def made() -> str:
            """A feed of the owner's to revoke: each revocation spends one."""
            answer = await scheduling.http.post(f"{owner}/calendar-feeds", headers=ADMIN)
            assert answer.status_code == 201, answer.text
            feed_id: str = answer.json()["feed_id"]
            return feed_id

        return made

    ids = {
        "client_id": seeded.client_id,
        "therapist_id": seeded.therapist_id,
        "session_id": seeded.session_id,
        "token": seeded.token,
    }
    ids_for = {
        ("DELETE", CLIENT_FEED): {"feed_id": a_fresh_feed(f"/v1/clients/{seeded.client_id}")},
        ("DELETE", THERAPIST_FEED): {"feed_id": a_fresh_feed(f"/v1/therapists/{seeded.therapist_id}")},
    }
    later = a_weekday_at(scheduling.clock, 3, 14).isoformat()
    bodies = {
        ("PUT", f"{TH}/availability"): lambda ids: weekdays("UTC"),  # as it is: the slots stay
        ("POST", "/v1/sessions"): lambda ids: {
            "client_id": ids["client_id"],
            "therapist_id": ids["therapist_id"],
            "starts_at": later,
        },
        ("POST", f"{S}/reschedule"): lambda ids: {
            "starts_at": a_weekday_at(scheduling.clock, 3, 12).isoformat()
        },
        ("POST", f"{S}/attendance"): lambda ids: {"attendance": "held"},
        ("POST", f"{S}/cancel"): lambda ids: {},
        ("POST", f"{A}/erasure"): lambda ids: {"reason": "GDPR Art. 17, ticket DPO-1"},
    }
    await walk(
        scheduling.http,
        [*PUBLIC, *MATRIX],
        ids=ids,
        ids_for=ids_for,
        bodies=bodies,
        tokens=tokens,
        tally=TALLY,
    )
    assert TALLY.unexpected == [], "\n".join(TALLY.unexpected)
