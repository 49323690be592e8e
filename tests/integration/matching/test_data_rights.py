"""Matching's admin data-rights routes: admins only, 404 when nothing is held, erasure leaves its proof."""

from __future__ import annotations

from tests.integration.matching.service import ADMIN, RunningMatching, bearer
from tests.support.data_rights import assert_admin_only_and_erasure_leaves_its_proof


async def test_export_and_erasure_are_for_admins_only_and_nothing_held_is_404(
    matching: RunningMatching,
) -> None:
    await assert_admin_only_and_erasure_leaves_its_proof(matching.http, bearer, ADMIN)
