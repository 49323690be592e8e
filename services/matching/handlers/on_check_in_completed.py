"""check-in-completed: the therapist's outcome record in the client's concern domains.

The concerns are the check-in's own, else the client's intake concerns. Each record keeps
the client's latest verdict (reliable improvement, reliable deterioration), see
`domain/outcomes.py` for how records become a score.
"""

from __future__ import annotations

from services.matching.context import Matching
from services.matching.store import journal
from services.matching.store.clients import intake_of
from services.matching.store.outcomes import outcome_id, record_outcome
from shared.events.envelope import Envelope
from shared.events.models import CheckInCompleted
from shared.messaging.subscriptions import Handler
from shared.observability.logs import get_logger

log = get_logger(__name__)


def on_check_in_completed(matching: Matching) -> Handler:
    async def handle(event: CheckInCompleted, envelope: Envelope) -> None:
        """Updates the therapist's per-concern rates of reliable improvement and deterioration."""
        concerns = [c.value for c in event.concerns]
        if not concerns:
            client = await matching.clients.get(event.client_id)
            if client is not None and client.get("intake"):
                concerns = [c.value for c in intake_of(client).concerns]
        if not concerns:
            log.info("check-in without known concerns: no outcome recorded", check_in_id=event.check_in_id)
            return
        now = matching.clock()
        refs = []
        for concern in dict.fromkeys(concerns):
            record_id = outcome_id(event.therapist_id, concern)
            stored = await matching.outcomes.upsert(
                record_id,
                record_outcome(
                    event.therapist_id,
                    concern,
                    event.client_id,
                    improved=event.change.reliable_improvement,
                    deteriorated=event.change.reliable_deterioration,
                    at=event.completed_at,
                    now=now,
                ),
            )
            matching.directory.apply(journal.OUTCOMES, stored)
            refs.append(journal.ref(journal.OUTCOMES, record_id))
        await matching.directory.record(refs)

    return handle
