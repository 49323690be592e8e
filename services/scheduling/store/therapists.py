"""Therapists' availability (`therapists/{therapist_id}`): the rules slots are computed from."""

from __future__ import annotations

from services.scheduling.domain.availability import Availability, availability_from
from shared.ports import Documents


async def availability_of(store: Documents, therapist_id: str) -> Availability | None:
    document = await store.get(therapist_id)
    if document is None or document.get("availability") is None:
        return None
    return availability_from(document["availability"])
