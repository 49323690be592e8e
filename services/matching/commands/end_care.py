"""Care with a therapist ends before or after it began, and their place is freed.

Asked for by a cancelled first session (care never began; a later cancelled session is one
missed appointment in an ongoing course) and by a completed treatment plan. The client
leaves the therapist's caseload and is no longer in care with them; the event that ended
care, when it moves the care relationships (a completed plan: the therapist is *ended*,
404 on the client's matches from then on), is folded at its time, in the same write of the
client's document, with the event as its cause. The place freed re-matches the waitlist
(`rematch_waitlist`). Booking another first session counts the client in again.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from services.matching.commands.rematch_waitlist import RematchWaitlist, rematch_waitlist
from services.matching.context import MatchingContext
from services.matching.domain.client import Client
from services.matching.store import clients as client_store
from services.matching.store import therapists as therapist_store
from shared.events.envelope import Envelope


@dataclass(frozen=True, slots=True)
class EndCare:
    client_id: str
    therapist_id: str
    cause: Envelope
    ending: BaseModel | None = None
    """The event that ended care, folded into the care relationships at `cause.time`."""


async def end_care(command: EndCare, ctx: MatchingContext) -> None:
    now = ctx.clock()
    therapist_id, cause = command.therapist_id, command.cause
    await ctx.directory.change_therapists([(therapist_id, therapist_store.end_care(command.client_id, now))])
    folded = [(command.ending, cause.time)] if command.ending is not None else []

    def ended(client: Client) -> Client:
        return client.in_care_with(None, only_if=therapist_id).fold(folded)

    await client_store.update(ctx.clients, ctx.waitlist, command.client_id, ended, now=now, cause=cause)
    await rematch_waitlist(RematchWaitlist((therapist_id,), cause), ctx)
