"""`match-declined`: the client turned the match down; care booked from it ends.

When the declined match is the one the client's care was booked from (and the declined
therapist, if named, is theirs), future sessions are cancelled on the system's behalf
(`match_declined`), and the series and check-ins stop; matching proposes again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from services.scheduling.commands.care_changes import end_care
from services.scheduling.commands.context import Scheduling
from services.scheduling.commands.record_care import Decision, load_care, write_care
from services.scheduling.domain.care import Care, Proposal, ProposalOutcome
from shared.events.envelope import Envelope
from shared.events.models import MatchDeclined


def on_match_declined(ctx: Scheduling) -> Callable[[MatchDeclined, Envelope], Awaitable[None]]:
    async def handle(event: MatchDeclined, envelope: Envelope) -> None:
        """Cancel the care booked from a declined match."""
        care = await load_care(ctx, event.client_id)
        if care is None:
            return
        releasable = {s.session_id: s.claims for s in care.upcoming(ctx.now())}

        def decide(care: Care) -> Decision:
            known = care.proposal(event.match_id) or Proposal(event.match_id, ProposalOutcome.declined)
            care = care.with_proposal(replace(known, outcome=ProposalOutcome.declined))
            series = care.series
            if (
                series is not None
                and series.in_care
                and series.match_id == event.match_id
                and event.therapist_id in (None, series.therapist_id)
            ):
                return end_care(ctx, care, reason="match_declined", cause=envelope)
            return Decision(care)

        await write_care(ctx, event.client_id, decide, cause=envelope, claims=releasable)

    return handle
