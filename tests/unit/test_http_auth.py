"""Bearer JWTs: bad signature, expired or missing tokens are refused with problem+json."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from shared.http.auth import Principal, Role, mint_token, require_roles
from shared.http.problems import install_problem_handlers
from shared.settings import AuthSettings

SETTINGS = AuthSettings(secret=SecretStr("a-test-secret-that-is-long-enough-for-hs256"))


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)
    clinicians = require_roles(SETTINGS, Role.clinician, Role.admin)

    @app.get("/v1/caseload")
    async def caseload(who: Annotated[Principal, Depends(clinicians)]) -> dict[str, str]:
        return {"subject": who.subject, "role": who.role.value}

    return TestClient(app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_valid_token_with_an_allowed_role_is_accepted(client: TestClient) -> None:
    token = mint_token(SETTINGS, subject="therapist-1", role=Role.clinician)
    response = client.get("/v1/caseload", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"subject": "therapist-1", "role": "clinician"}


def test_missing_token_is_refused(client: TestClient) -> None:
    response = client.get("/v1/caseload")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"] == "a bearer token is required"


def test_token_with_a_bad_signature_is_refused(client: TestClient) -> None:
    forged = mint_token(
        AuthSettings(secret=SecretStr("another-secret-of-sufficient-length-0000")),
        subject="therapist-1",
        role=Role.admin,
    )
    response = client.get("/v1/caseload", headers=bearer(forged))
    assert response.status_code == 401
    assert response.json()["detail"] == "token signature is invalid"


def test_expired_token_is_refused(client: TestClient) -> None:
    stale = mint_token(
        SETTINGS,
        subject="therapist-1",
        role=Role.clinician,
        ttl=timedelta(minutes=5),
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    response = client.get("/v1/caseload", headers=bearer(stale))
    assert response.status_code == 401
    assert response.json()["detail"] == "token has expired"


def test_garbage_token_is_refused(client: TestClient) -> None:
    response = client.get("/v1/caseload", headers=bearer("not.a.jwt"))
    assert response.status_code == 401


def test_role_not_allowed_is_forbidden(client: TestClient) -> None:
    token = mint_token(SETTINGS, subject="client-1", role=Role.client)
    response = client.get("/v1/caseload", headers=bearer(token))
    assert response.status_code == 403
    assert response.json()["title"] == "Forbidden"


def test_clients_act_only_for_themselves_and_clinicians_for_their_own_clients() -> None:
    client = Principal("client-1", Role.client)
    clinician = Principal("therapist-1", Role.clinician)
    assert client.may_act_for_client("client-1") and not client.may_act_for_client("client-2")
    assert clinician.may_act_for_client("client-2", treating_therapist_ids=["therapist-1"])
    assert not clinician.may_act_for_client("client-2", treating_therapist_ids=["therapist-9"])
    assert Principal("scheduling", Role.service).may_act_for_client("anyone")
    assert clinician.may_act_for_therapist("therapist-1") and not clinician.may_act_for_therapist("t-2")
