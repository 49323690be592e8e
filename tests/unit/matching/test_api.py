"""Matching's HTTP API on the in-memory fakes: who may do what, and problem+json naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.matching.api import matches, therapists
from services.matching.handlers.on_intake_completed import on_intake_completed
from services.matching.handlers.on_session_attendance_recorded import on_session_attendance_recorded
from shared.http.auth import Role
from shared.http.problems import install_problem_handlers
from tests.support.http_stand_in import bearer, stand_in_runtime
from tests.unit.matching.builders import Fakes, attended, delivered, intake, profile

ADMIN = bearer("ops-1", Role.admin)
CLIENT = bearer("client-1", Role.client)
OTHER_CLIENT = bearer("client-2", Role.client)
CLINICIAN = bearer("t-1", Role.clinician)


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
async def api(fakes: Fakes) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.runtime = stand_in_runtime()
    app.state.context = fakes.matching
    install_problem_handlers(app)
    app.include_router(therapists.router, prefix="/v1")
    app.include_router(matches.router, prefix="/v1")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://matching"
    ) as client:
        yield client


def body(**overrides: Any) -> dict[str, Any]:
    return profile(**overrides).model_dump(mode="json")


async def test_an_admin_creates_then_replaces_a_therapist(api: httpx.AsyncClient) -> None:
    created = await api.put("/v1/therapists/t-1", json=body(), headers=ADMIN)
    assert created.status_code == 201
    assert created.json()["therapist_id"] == "t-1" and created.json()["free_capacity"] == 10
    replaced = await api.put("/v1/therapists/t-1", json=body(capacity=4), headers=ADMIN)
    assert replaced.status_code == 200 and replaced.json()["profile"]["capacity"] == 4
    read = await api.get("/v1/therapists/t-1", headers=CLINICIAN)
    assert read.status_code == 200 and read.json()["revision"] == 2


async def test_only_admins_write_the_directory(api: httpx.AsyncClient) -> None:
    for headers in (CLIENT, CLINICIAN, bearer("scheduling", Role.service)):
        refused = await api.put("/v1/therapists/t-1", json=body(), headers=headers)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await api.put("/v1/therapists/t-1", json=body())).status_code == 401


async def test_bad_admin_input_gets_a_problem_naming_the_field(api: httpx.AsyncClient) -> None:
    cases = {
        "body.capacity": body() | {"capacity": -1},
        "body.licensed_jurisdictions.0": body() | {"licensed_jurisdictions": ["California"]},
        "body.specialties": body()
        | {"specialties": [{"concern": "ocd", "years": 1}, {"concern": "ocd", "years": 2}]},
        "body.in_person_regions": body() | {"formats": ["in_person"], "in_person_regions": []},
        "body.timezone": body() | {"timezone": "Mars/Olympus"},
        "body.hourly_rate": body() | {"hourly_rate": 90},
    }
    for field, payload in cases.items():
        refused = await api.put("/v1/therapists/t-1", json=payload, headers=ADMIN)
        assert refused.status_code == 422, field
        assert refused.headers["content-type"] == "application/problem+json"
        assert field in [error["field"] for error in refused.json()["errors"]], refused.json()
    bad_id = await api.put("/v1/therapists/not%20an%20id", json=body(), headers=ADMIN)
    assert bad_id.status_code == 422 and bad_id.json()["errors"][0]["field"] == "path.therapist_id"


async def test_a_therapist_not_in_the_directory_is_not_found(api: httpx.AsyncClient) -> None:
    missing = await api.get("/v1/therapists/t-none", headers=ADMIN)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


async def test_the_listing_filters_and_pages_by_id(api: httpx.AsyncClient) -> None:
    for number in range(5):
        languages = ["es"] if number % 2 else ["en"]
        await api.put(f"/v1/therapists/t-{number}", json=body(languages=languages), headers=ADMIN)
    page = await api.get(
        "/v1/therapists", params={"language": "en", "page_size": 2, "page": 2}, headers=ADMIN
    )
    assert page.status_code == 200
    assert [t["therapist_id"] for t in page.json()["items"]] == ["t-4"]
    assert page.json()["total"] == 3
    bad = await api.get("/v1/therapists", params={"jurisdiction": "california"}, headers=ADMIN)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.jurisdiction"
    assert (await api.get("/v1/therapists", headers=CLIENT)).status_code == 403


async def _proposed(api: httpx.AsyncClient, fakes: Fakes) -> str:
    for number in range(4):
        await api.put(f"/v1/therapists/t-{number}", json=body(), headers=ADMIN)
    await on_intake_completed(fakes.matching)(*delivered(intake()))
    return str(fakes.published("match-proposed")[-1].match_id)


def audit_of(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = api._transport.app.state.runtime.audit.records  # type: ignore[attr-defined]
    return records


async def test_clients_see_their_own_matches_only_and_every_read_and_refusal_is_audited(
    api: httpx.AsyncClient, fakes: Fakes
) -> None:
    match_id = await _proposed(api, fakes)
    own = await api.get("/v1/clients/client-1/matches", headers=CLIENT)
    assert own.status_code == 200
    assert [m["match_id"] for m in own.json()["items"]] == [match_id]
    assert own.json()["waitlisted"] is False and own.json()["waitlisted_since"] is None
    refused = await api.get("/v1/clients/client-1/matches", headers=OTHER_CLIENT)
    missing = await api.get("/v1/matches/no-such-match", headers=OTHER_CLIENT)
    hidden = await api.get(f"/v1/matches/{match_id}", headers=OTHER_CLIENT)
    assert refused.status_code == missing.status_code == hidden.status_code == 404
    # A refusal says no more than a missing match (only the path it answers differs).
    assert hidden.json() | {"instance": None} == missing.json() | {"instance": None}
    assert [(r["action"], r["resource"], r["client_id"], r["basis"]) for r in audit_of(api)] == [
        ("read", "matches", "client-1", "own_record"),
        ("refused", "matches", "client-1", "not_own_record"),
        ("refused", "match", "client-1", "not_own_record"),
    ]


async def test_a_therapist_reads_a_clients_matches_only_once_chosen_and_while_in_care(
    api: httpx.AsyncClient, fakes: Fakes
) -> None:
    match_id = await _proposed(api, fakes)
    therapist = bearer("t-1", Role.clinician)
    paths = ("/v1/clients/client-1/matches", f"/v1/matches/{match_id}")

    async def answers() -> list[int]:
        return [(await api.get(path, headers=therapist)).status_code for path in paths]

    assert await answers() == [404, 404]  # proposed: the referral summary is intake's, not the matches
    accepted = await api.post(f"/v1/matches/{match_id}/accept", json={"therapist_id": "t-1"}, headers=CLIENT)
    assert accepted.status_code == 200
    assert await answers() == [200, 200]  # chosen
    await on_session_attendance_recorded(fakes.matching)(*delivered(attended("t-1", match_id=match_id)))
    assert await answers() == [200, 200]  # in care
    declined = await api.post(f"/v1/matches/{match_id}/decline", json={"therapist_id": "t-1"}, headers=CLIENT)
    assert declined.status_code == 200
    assert await answers() == [404, 404]  # ended
    bases = [(r["action"], r["basis"]) for r in audit_of(api) if r["actor"] == "t-1"]
    assert bases == [
        *[("refused", "proposed")] * 2,
        *[("read", "chosen")] * 2,
        *[("read", "in_care")] * 2,
        *[("refused", "ended")] * 2,
    ]


async def test_a_client_accepts_and_declines_their_own_match(api: httpx.AsyncClient, fakes: Fakes) -> None:
    match_id = await _proposed(api, fakes)
    accepted = await api.post(f"/v1/matches/{match_id}/accept", json={"therapist_id": "t-1"}, headers=CLIENT)
    assert accepted.status_code == 200 and accepted.json()["accepted_therapist_id"] == "t-1"
    declined = await api.post(f"/v1/matches/{match_id}/decline", json={"therapist_id": "t-1"}, headers=CLIENT)
    assert declined.status_code == 200
    result = declined.json()
    assert result["declined"]["status"] == "declined"
    assert "t-1" not in [c["therapist_id"] for c in result["proposal"]["candidates"]]


async def test_someone_elses_match_may_not_be_accepted_or_declined(
    api: httpx.AsyncClient, fakes: Fakes
) -> None:
    match_id = await _proposed(api, fakes)
    for path in (f"/v1/matches/{match_id}/accept", f"/v1/matches/{match_id}/decline"):
        assert (await api.post(path, headers=OTHER_CLIENT)).status_code == 404  # as if missing
        assert (await api.post(path, headers=CLINICIAN)).status_code == 403  # a role never chooses
    assert fakes.published("match-accepted") == fakes.published("match-declined") == []


async def test_choosing_a_therapist_outside_the_proposal_is_a_problem_naming_the_field(
    api: httpx.AsyncClient, fakes: Fakes
) -> None:
    match_id = await _proposed(api, fakes)
    refused = await api.post(f"/v1/matches/{match_id}/accept", json={"therapist_id": "t-9"}, headers=CLIENT)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "body.therapist_id"
    unknown = await api.post(f"/v1/matches/{match_id}/decline", json={"surprise": 1}, headers=CLIENT)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "body.surprise"


async def test_switching_without_a_therapist_or_open_proposal_is_a_conflict(
    api: httpx.AsyncClient, fakes: Fakes
) -> None:
    assert (await api.post("/v1/clients/client-1/switch", headers=CLIENT)).status_code == 404
    match_id = await _proposed(api, fakes)
    switched = await api.post("/v1/clients/client-1/switch", headers=CLIENT)
    assert switched.status_code == 200 and switched.json()["proposal"]["predecessor"] == match_id
    assert (await api.post("/v1/clients/client-1/switch", headers=OTHER_CLIENT)).status_code == 404


async def test_a_client_nobody_can_take_sees_that_they_wait_and_since_when(
    api: httpx.AsyncClient, fakes: Fakes
) -> None:
    await on_intake_completed(fakes.matching)(*delivered(intake()))  # an empty directory
    listed = (await api.get("/v1/clients/client-1/matches", headers=CLIENT)).json()
    assert listed["waitlisted"] is True and listed["waitlisted_since"] is not None
    (empty,) = listed["items"]
    assert empty["waitlisted"] is True and empty["candidates"] == [] and empty["origin"] == "intake"
