"""A stand-in for `ServiceRuntime` and an app around a router, for HTTP dependency tests."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from shared.http.auth import Role, mint_token
from shared.http.problems import install_problem_handlers
from shared.security.field_encryption import FieldCipher
from shared.settings import AuthSettings
from tests.support.fakes import RecordingAudit

AUTH = AuthSettings(secret=SecretStr("a-test-secret-that-is-long-enough-for-hs256"))


def stand_in_runtime() -> SimpleNamespace:
    return SimpleNamespace(
        settings=SimpleNamespace(auth=AUTH, service_name="probe"),
        audit=RecordingAudit(),
        cipher=FieldCipher({"k1": os.urandom(32)}, "k1"),
    )


def client_for(router: APIRouter, runtime: SimpleNamespace | None = None) -> TestClient:
    app = FastAPI()
    app.state.runtime = runtime or stand_in_runtime()
    install_problem_handlers(app)
    app.include_router(router, prefix="/v1")
    return TestClient(app, raise_server_exceptions=False)


def bearer(subject: str, role: Role, settings: AuthSettings = AUTH, **mint: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, subject=subject, role=role, **mint)}"}
