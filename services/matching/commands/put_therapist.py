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

from services.matching.commands.rematch_waitlist import RematchWaitlist, rematch_waitlist
from services.matching.context import SERVICE, MatchingContext
from services.matching.domain.profile import TherapistProfile
from services.matching.domain.waitlist import opens_room
from services.matching.store.therapists import put_profile
from shared.events.envelope import command_cause
from shared.storage import Document


@dataclass(frozen=True, slots=True)
class PutTherapist:
    therapist_id: str
    profile: TherapistProfile


@dataclass(frozen=True, slots=True)
class Put:
    therapist: Document
    created: bool


async def put_therapist(command: PutTherapist, ctx: MatchingContext) -> Put:
    therapist_id = command.therapist_id
    existed = await ctx.therapists.get(therapist_id)
    stored = await ctx.directory.upsert_therapist(therapist_id, put_profile(command.profile, ctx.clock()))
    assert stored is not None
    before = (existed or {}).get("profile")
    if stored.get("revision") != (existed or {}).get("revision") and opens_room(before, stored["profile"]):
        cause = command_cause(
            SERVICE,
            "put-therapist",
            therapist_id,
            str(stored.get("revision", 0)),
            subject=therapist_id,
            correlation_id=None,
            now=ctx.clock(),
        )
        await rematch_waitlist(RematchWaitlist((therapist_id,), cause), ctx)
    return Put(therapist=stored, created=existed is None or not existed.get("profile"))
