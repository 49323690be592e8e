"""Give back the capacity a proposal held (booked, accepted, declined, failed, expired...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.matching.context import Matching
from services.matching.store.proposals import candidate_ids
from services.matching.store.therapists import release_hold


async def release_holds(matching: Matching, proposal: Mapping[str, Any], *, keep: str | None = None) -> None:
    """Release `proposal`'s hold on every candidate but `keep`; releasing twice changes nothing."""
    now = matching.clock()
    await matching.change_therapists(
        (therapist_id, release_hold(proposal["_id"], now))
        for therapist_id in candidate_ids(proposal)
        if therapist_id != keep
    )
