"""Follow a decline: the client (or an admin) turned the match down; care from it ends.

The decline, folded into the care relationships, ends the client's care with the declined
therapist (all of the match's, when none is named) in the same write
(`domain/consent.py`): their upcoming sessions are cancelled on the system's behalf
(`match_declined`) and the series and check-ins with them stop; matching proposes again.
A decline of a later proposal (a switch the client turned down) leaves the therapist they
are in care with as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from services.scheduling.context import SchedulingContext
from services.scheduling.domain.care import Care, Proposal, ProposalOutcome
from services.scheduling.store.clients import Decision, write_care
from shared.events.envelope import Envelope
from shared.events.models import MatchDeclined


@dataclass(frozen=True, slots=True)
class FollowDecline:
    """The client (or an admin) declined a match (`decline`, what `cause` carries)."""

    decline: MatchDeclined
    cause: Envelope


async def follow_decline(command: FollowDecline, ctx: SchedulingContext) -> None:
    """Record the decline; care with the declined therapist ends with it."""
    event = command.decline

    def decide(care: Care) -> Decision:
        known = care.proposal(event.match_id) or Proposal(event.match_id, ProposalOutcome.declined)
        return Decision(care.with_proposal(replace(known, outcome=ProposalOutcome.declined)))

    await write_care(ctx, event.client_id, decide, cause=command.cause, event=event)
