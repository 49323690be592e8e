"""Route dependencies resolved from the app's runtime at request time: who, may they, audit, cipher.

The router below is a plain module-level `APIRouter` in a module with postponed
annotations, as a service's routers are; the app's runtime is an in-memory stand-in.
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from shared.http.auth import Principal, Role
from shared.http.dependencies import Admin, Audit, Caller, Cipher, CorrelationId, Runtime, requires
from shared.settings import AuthSettings
from tests.support.http_stand_in import AUTH, bearer, client_for, stand_in_runtime

router = APIRouter()
JOURNEY = "0e6f2b1a-7d3c-4f5e-8a9b-1c2d3e4f5a6b"
REQUEST = "5b1d7c3e-2a4f-4e6b-9c8d-7f0a1b2c3d4e"
clinical_staff = requires(Role.clinician, Role.admin)


@router.get("/me")
async def me(who: Caller) -> dict[str, str]:
    return {"subject": who.subject, "role": who.role.value}


@router.get("/caseload")
async def caseload(who: Principal = Depends(clinical_staff)) -> dict[str, str]:
    return {"subject": who.subject}


@router.get("/audit-trail")
async def audit_trail(who: Admin) -> dict[str, str]:
    return {"subject": who.subject}


@router.post("/reindex", dependencies=[Depends(requires(Role.admin))], status_code=202)
async def reindex() -> None:
    return None


@router.get("/clients/{client_id}/notes/{note_id}")
async def read_note(client_id: str, note_id: str, audit: Audit, cipher: Cipher) -> dict[str, str]:
    context = f"notes/{note_id}/text"
    stored = cipher.encrypt("feels low most mornings", context=context)  # as if loaded from a store
    await audit.read(resource="note", resource_id=note_id, client_id=client_id)
    return {"text": cipher.decrypt(stored, context=context)}


@router.get("/service")
async def service(rt: Runtime) -> dict[str, str]:
    return {"service": rt.settings.service_name}


@router.get("/journey")
async def journey(first: CorrelationId, again: CorrelationId) -> dict[str, str]:
    return {"first": first, "again": again}


@pytest.fixture
def runtime() -> SimpleNamespace:
    return stand_in_runtime()


@pytest.fixture
def client(runtime: SimpleNamespace) -> TestClient:
    return client_for(router, runtime)


def test_caller_comes_from_a_token_checked_with_the_app_runtime_settings(client: TestClient) -> None:
    response = client.get("/v1/me", headers=bearer("client-1", Role.client))
    assert response.status_code == 200
    assert response.json() == {"subject": "client-1", "role": "client"}


def test_missing_token_is_refused_with_401_problem_json(client: TestClient) -> None:
    response = client.get("/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"] == "a bearer token is required"


def test_token_with_a_bad_signature_is_refused_with_401(client: TestClient) -> None:
    other = AuthSettings(secret=SecretStr("another-secret-of-sufficient-length-0000"))
    response = client.get("/v1/me", headers=bearer("therapist-1", Role.admin, other))
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "token signature is invalid"


def test_expired_token_is_refused_with_401(client: TestClient) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    headers = bearer("therapist-1", Role.clinician, ttl=timedelta(minutes=5), now=an_hour_ago)
    response = client.get("/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "token has expired"


def test_garbage_token_is_refused_with_401(client: TestClient) -> None:
    response = client.get("/v1/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert response.status_code == 401


def test_role_check_admits_any_of_the_named_roles(client: TestClient) -> None:
    for subject, role in [("therapist-1", Role.clinician), ("ops-1", Role.admin)]:
        response = client.get("/v1/caseload", headers=bearer(subject, role))
        assert response.status_code == 200
        assert response.json() == {"subject": subject}


def test_wrong_role_is_forbidden_with_problem_json_naming_the_role(client: TestClient) -> None:
    response = client.get("/v1/caseload", headers=bearer("client-1", Role.client))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["title"] == "Forbidden"
    assert "'client'" in body["detail"]
    assert "clinician, admin" in body["detail"]


def test_admin_alias_admits_admins_only(client: TestClient) -> None:
    assert client.get("/v1/audit-trail", headers=bearer("ops-1", Role.admin)).status_code == 200
    assert client.get("/v1/audit-trail", headers=bearer("scheduling", Role.service)).status_code == 403
    assert client.get("/v1/audit-trail").status_code == 401


def test_role_check_in_route_dependencies_guards_the_route(client: TestClient) -> None:
    assert client.post("/v1/reindex", headers=bearer("ops-1", Role.admin)).status_code == 202
    assert client.post("/v1/reindex", headers=bearer("therapist-1", Role.clinician)).status_code == 403
    assert client.post("/v1/reindex").status_code == 401


def test_same_roles_give_the_same_dependency_so_it_runs_once_per_request() -> None:
    assert requires(Role.clinician, Role.admin) is clinical_staff


def test_audited_read_records_who_what_and_the_correlation_id(
    client: TestClient, runtime: SimpleNamespace
) -> None:
    headers = {**bearer("therapist-1", Role.clinician), "X-Correlation-ID": JOURNEY}
    response = client.get("/v1/clients/client-1/notes/note-3", headers=headers)
    assert response.status_code == 200
    assert runtime.audit.records == [
        {
            "actor": "therapist-1",
            "role": "clinician",
            "action": "read",
            "resource": "note",
            "resource_id": "note-3",
            "client_id": "client-1",
            "correlation_id": JOURNEY,
            "basis": None,
        }
    ]


def test_audited_read_never_records_the_data_read(client: TestClient, runtime: SimpleNamespace) -> None:
    response = client.get("/v1/clients/client-1/notes/note-3", headers=bearer("client-1", Role.client))
    assert response.json() == {"text": "feels low most mornings"}
    assert "feels low" not in repr(runtime.audit.records)


def test_audited_read_without_a_correlation_header_uses_the_request_id(
    client: TestClient, runtime: SimpleNamespace
) -> None:
    headers = {**bearer("client-1", Role.client), "X-Request-ID": REQUEST}
    client.get("/v1/clients/client-1/notes/note-3", headers=headers)
    client.get("/v1/clients/client-1/notes/note-3", headers=bearer("client-1", Role.client))
    first, second = (record["correlation_id"] for record in runtime.audit.records)
    assert first == REQUEST
    assert second and second != first  # a fresh id for a request that brought none


def test_correlation_id_is_the_callers_header_or_one_fresh_id_per_request(client: TestClient) -> None:
    assert client.get("/v1/journey", headers={"X-Correlation-ID": JOURNEY}).json()["first"] == JOURNEY
    fresh = client.get("/v1/journey").json()
    assert fresh["first"] == fresh["again"] != client.get("/v1/journey").json()["first"]


@pytest.mark.parametrize(
    "sent", ["journey-7", "Jane Doe, DOB 1990-01-01", "x" * 120, f"{JOURNEY}; DROP", "'; --", "0" * 31]
)
def test_a_correlation_id_that_is_not_a_uuid_is_replaced_and_the_replacement_logged_without_it(
    client: TestClient, log_stream: io.StringIO, sent: str
) -> None:
    answer = client.get("/v1/journey", headers={"X-Correlation-ID": sent}).json()

    assert answer["first"] == answer["again"]  # one decision per request
    assert str(uuid.UUID(answer["first"])) == answer["first"] != sent
    (line,) = [json.loads(text) for text in log_stream.getvalue().splitlines() if "not a UUID" in text]
    assert line["correlation_id"] == answer["first"] and line["level"] == "warning"
    assert sent not in log_stream.getvalue()


def test_a_uuid_in_any_spelling_is_kept_in_its_canonical_form(client: TestClient) -> None:
    spelled = "{" + JOURNEY.upper().replace("-", "") + "}"
    assert client.get("/v1/journey", headers={"X-Request-ID": spelled}).json()["first"] == JOURNEY


def test_unauthenticated_read_is_refused_before_anything_is_recorded(
    client: TestClient, runtime: SimpleNamespace
) -> None:
    assert client.get("/v1/clients/client-1/notes/note-3").status_code == 401
    assert runtime.audit.records == []


def test_runtime_dependency_gives_the_app_runtime(client: TestClient) -> None:
    assert client.get("/v1/service").json() == {"service": "probe"}


def test_dependencies_are_not_mistaken_for_query_parameters(client: TestClient) -> None:
    operations = [op for path in client.get("/openapi.json").json()["paths"].values() for op in path.values()]
    query = {p["name"] for op in operations for p in op.get("parameters", []) if p["in"] == "query"}
    assert query == set()


def test_app_without_a_runtime_fails_loudly() -> None:
    app = FastAPI()
    app.include_router(router, prefix="/v1")
    with pytest.raises(RuntimeError, match=r"app\.state\.runtime is not set"):
        TestClient(app).get("/v1/me", headers=bearer("client-1", Role.client, AUTH))
