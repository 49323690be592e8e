"""`match-declined`: the client (or an admin) turned the match down; care from it ends.

The decline, folded into the care relationships, ends the client's care with the declined
therapist (all of the match's, when none is named) in the same write
(`domain/consent.py`): their upcoming sessions are cancelled on the system's behalf
(`match_declined`) and the series and check-ins with them stop; matching proposes again.
A decline of a later proposal (a switch the client turned down) leaves the therapist they
are in care with as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from services.scheduling.commands.context import Scheduling
from services.scheduling.commands.record_care import Decision, write_care
from services.scheduling.domain.care import Care, Proposal, ProposalOutcome
from shared.events.envelope import Envelope
from shared.events.models import MatchDeclined


def on_match_declined(ctx: Scheduling) -> Callable[[MatchDeclined, Envelope], Awaitable[None]]:
    async def handle(event: MatchDeclined, envelope: Envelope) -> None:
        """Record the decline; care with the declined therapist ends with it."""

        def decide(care: Care) -> Decision:
            known = care.proposal(event.match_id) or Proposal(event.match_id, ProposalOutcome.declined)
            return Decision(care.with_proposal(replace(known, outcome=ProposalOutcome.declined)))

        await write_care(ctx, event.client_id, decide, cause=envelope, event=event)

    return handle
