"""The dependency aliases work in a router module without `from __future__ import annotations`.

Its sibling test module uses postponed annotations; together they cover both ways a
service's router module may be written.
"""

from typing import Annotated

from fastapi import APIRouter, Depends

from shared.http.auth import Principal, Role
from shared.http.dependencies import Admin, Audit, Caller, Cipher, requires
from tests.support.http_stand_in import bearer, client_for

router = APIRouter()


@router.get("/me")
async def me(who: Caller) -> dict[str, str]:
    return {"subject": who.subject}


@router.get("/caseload")
async def caseload(who: Annotated[Principal, Depends(requires(Role.clinician))]) -> dict[str, str]:
    return {"subject": who.subject}


@router.get("/audit-trail")
async def audit_trail(who: Admin) -> dict[str, str]:
    return {"subject": who.subject}


@router.get("/notes/{note_id}")
async def read_note(note_id: str, audit: Audit, cipher: Cipher) -> dict[str, str]:
    await audit.read(resource="note", resource_id=note_id)
    return {"text": cipher.decrypt(cipher.encrypt("plain", context=note_id), context=note_id)}


def test_aliases_resolve_as_dependencies_with_eager_annotations() -> None:
    client = client_for(router)
    assert client.get("/v1/me", headers=bearer("client-1", Role.client)).json() == {"subject": "client-1"}
    assert client.get("/v1/caseload", headers=bearer("therapist-1", Role.clinician)).status_code == 200
    assert client.get("/v1/caseload", headers=bearer("client-1", Role.client)).status_code == 403
    assert client.get("/v1/audit-trail", headers=bearer("ops-1", Role.admin)).status_code == 200
    assert client.get("/v1/notes/n-1", headers=bearer("ops-1", Role.admin)).json() == {"text": "plain"}
    assert client.get("/v1/me").status_code == 401


def test_no_dependency_becomes_a_query_parameter_with_eager_annotations() -> None:
    paths = client_for(router).get("/openapi.json").json()["paths"]
    parameters = [p for path in paths.values() for op in path.values() for p in op.get("parameters", [])]
    assert [p["name"] for p in parameters if p["in"] == "query"] == []
