"""A check-in was completed: the therapist's outcome record in the client's concern domains.

The concerns are the check-in's own, else the client's intake concerns. Each record keeps
the client's latest verdict (reliable improvement, reliable deterioration), see
`domain/outcomes.py` for how records become a score; this replica's read model applies
each at once and the others learn of them through the journal (one append for all).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.matching.context import MatchingContext
from services.matching.store import journal
from services.matching.store.clients import intake_of
from services.matching.store.outcomes import outcome_id, record_outcome
from shared.events.models import CheckInCompleted
from shared.observability.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RecordOutcomes:
    check_in: CheckInCompleted


async def record_outcomes(command: RecordOutcomes, ctx: MatchingContext) -> None:
    check_in = command.check_in
    concerns = [c.value for c in check_in.concerns]
    if not concerns:
        client = await ctx.clients.get(check_in.client_id)
        if client is not None and client.get("intake"):
            concerns = [c.value for c in intake_of(client).concerns]
    if not concerns:
        log.info("check-in without known concerns: no outcome recorded", check_in_id=check_in.check_in_id)
        return
    now = ctx.clock()
    refs = []
    for concern in dict.fromkeys(concerns):
        record_id = outcome_id(check_in.therapist_id, concern)
        stored = await ctx.outcomes.upsert(
            record_id,
            record_outcome(
                check_in.therapist_id,
                concern,
                check_in.client_id,
                improved=check_in.change.reliable_improvement,
                deteriorated=check_in.change.reliable_deterioration,
                at=check_in.completed_at,
                now=now,
            ),
        )
        ctx.directory.apply(journal.OUTCOMES, stored)
        refs.append(journal.ref(journal.OUTCOMES, record_id))
    await ctx.directory.record(refs)
