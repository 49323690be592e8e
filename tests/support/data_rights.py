"""The data-rights routes every service has, checked the same way (`/v1/admin/clients/{id}/...`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

import httpx

from shared.http.auth import Role


async def assert_admin_only_and_erasure_leaves_its_proof(
    http: httpx.AsyncClient,
    bearer: Callable[[str, Role], Mapping[str, str]],
    admin: Mapping[str, str],
) -> None:
    """Client, clinician and service get 403; nothing held is 404; an erasure is kept as proof."""
    client_id = f"client-{uuid.uuid4().hex[:10]}"
    path = f"/v1/admin/clients/{client_id}"
    for who in (
        bearer(client_id, Role.client),
        bearer("therapist-x", Role.clinician),
        bearer("web", Role.service),
    ):
        assert (await http.get(f"{path}/export", headers=who)).status_code == 403
        assert (await http.post(f"{path}/erasure", json={"reason": "ticket"}, headers=who)).status_code == 403

    nothing = await http.get(f"{path}/export", headers=admin)
    erased = await http.post(f"{path}/erasure", json={"reason": "ticket DPO-4"}, headers=admin)
    proof = await http.get(f"{path}/export", headers=admin)

    assert nothing.status_code == 404
    assert erased.status_code == 200, erased.text
    assert erased.json()["retained"]["erasures"]["ids"] == [client_id]
    assert proof.json()["records"]["erasures"][0]["reason"] == "ticket DPO-4"
