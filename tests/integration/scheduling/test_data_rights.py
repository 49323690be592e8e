"""Scheduling's admin data-rights routes: admins only, 404 when nothing is held, erasure leaves its proof."""

from __future__ import annotations

from tests.integration.scheduling.service import ADMIN, RunningScheduling, bearer
from tests.support.data_rights import assert_admin_only_and_erasure_leaves_its_proof


async def test_export_and_erasure_are_for_admins_only_and_nothing_held_is_404(
    scheduling: RunningScheduling,
) -> None:
    await assert_admin_only_and_erasure_leaves_its_proof(scheduling.http, bearer, ADMIN)
