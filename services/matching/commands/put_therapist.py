"""An admin creates a therapist or replaces their profile (`PUT /v1/therapists/{id}`).

Only the profile is replaced: the caseload, holds and availability are derived and stay.
The change reaches this replica's read model at once and the others' through the journal.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.matching.context import Matching
from services.matching.domain.profile import TherapistProfile
from services.matching.store import journal
from services.matching.store.therapists import put_profile
from shared.storage import Document


@dataclass(frozen=True, slots=True)
class Put:
    therapist: Document
    created: bool


async def put_therapist(matching: Matching, therapist_id: str, profile: TherapistProfile) -> Put:
    existed = await matching.therapists.get(therapist_id)
    stored = await matching.therapists.upsert(therapist_id, put_profile(profile, matching.clock()))
    assert stored is not None
    matching.directory.apply(journal.THERAPISTS, stored)
    await matching.directory.record([journal.ref(journal.THERAPISTS, therapist_id)])
    return Put(therapist=stored, created=existed is None or not existed.get("profile"))
