"""Matching's admin data-rights routes: admins only, 404 when nothing is held, erasure leaves its proof."""

from __future__ import annotations

from shared.http.auth import Role
from tests.integration.matching.service import ADMIN, RunningMatching, bearer, new_id


async def test_export_and_erasure_are_for_admins_only_and_nothing_held_is_404(
    matching: RunningMatching,
) -> None:
    client_id = new_id("client")
    path = f"/v1/admin/clients/{client_id}"
    for who in (
        bearer(client_id, Role.client),
        bearer("therapist-x", Role.clinician),
        bearer("web", Role.service),
    ):
        assert (await matching.http.get(f"{path}/export", headers=who)).status_code == 403
        assert (
            await matching.http.post(f"{path}/erasure", json={"reason": "ticket"}, headers=who)
        ).status_code == 403

    nothing = await matching.http.get(f"{path}/export", headers=ADMIN)
    erased = await matching.http.post(f"{path}/erasure", json={"reason": "ticket DPO-4"}, headers=ADMIN)
    proof = await matching.http.get(f"{path}/export", headers=ADMIN)

    assert nothing.status_code == 404
    assert erased.status_code == 200, erased.text
    assert erased.json()["retained"]["erasures"]["ids"] == [client_id]
    assert proof.json()["records"]["erasures"][0]["reason"] == "ticket DPO-4"
