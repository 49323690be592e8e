"""Scheduling's word on a therapist's weekly hours: the availability scoring uses, and a waitlist trigger.

The hours (in the therapist's time zone) feed availability overlap; an older word never
wins. New hours (or openness to new clients) may let a waiting client be matched, so the
waitlist is re-matched for this therapist, oldest first (nobody waiting: one read).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.matching.commands.rematch_waitlist import RematchWaitlist, rematch_waitlist
from services.matching.context import MatchingContext
from services.matching.store.therapists import set_availability
from shared.events.envelope import Envelope
from shared.events.models import TherapistAvailabilityChanged


@dataclass(frozen=True, slots=True)
class RecordAvailability:
    availability: TherapistAvailabilityChanged
    cause: Envelope


async def record_availability(command: RecordAvailability, ctx: MatchingContext) -> None:
    therapist_id = command.availability.therapist_id
    await ctx.directory.upsert_therapist(therapist_id, set_availability(command.availability, ctx.clock()))
    await rematch_waitlist(RematchWaitlist((therapist_id,), command.cause), ctx)
