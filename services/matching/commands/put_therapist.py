"""An admin creates a therapist or replaces their profile (`PUT /v1/therapists/{id}`).

Only the profile is replaced: the caseload, holds and availability are derived and stay.
The change reaches this replica's read model at once and the others' through the journal.
A new therapist, or a new capacity, openness to new clients or licensure
(`domain/waitlist.opens_room`), re-matches the waitlist for them; the trigger's id derives
from the therapist and the document's revision, so a retried request that changed nothing
triggers nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.matching.commands.cause import command_cause
from services.matching.commands.rematch_waitlist import rematch_waitlist
from services.matching.context import Matching
from services.matching.domain.profile import TherapistProfile
from services.matching.domain.waitlist import opens_room
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
    before = (existed or {}).get("profile")
    if stored.get("revision") != (existed or {}).get("revision") and opens_room(before, stored["profile"]):
        cause = command_cause(
            "put-therapist",
            therapist_id,
            str(stored.get("revision", 0)),
            subject=therapist_id,
            correlation_id=None,
            now=matching.clock(),
            source=matching.policy.source,
        )
        await rematch_waitlist(matching, [therapist_id], cause=cause)
    return Put(therapist=stored, created=existed is None or not existed.get("profile"))
