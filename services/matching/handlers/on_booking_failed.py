"""booking-failed: release the proposal's holds and propose again without who had no slot.

The therapists scheduling tried (all the candidates, when it does not say) are excluded for
this intake; a proposal that had no candidates is not re-proposed (nothing changed that
could help, and scheduling would fail again), and neither is a client who had
`max_proposals_per_intake` already.
"""

from __future__ import annotations

from services.matching.commands.propose_matches import match_id_for, propose_again
from services.matching.commands.release_holds import release_holds
from services.matching.context import Matching
from services.matching.store import clients as client_state
from services.matching.store import proposals
from shared.events.envelope import Envelope
from shared.events.models import BookingFailed
from shared.messaging.subscriptions import Handler
from shared.observability.logs import get_logger

log = get_logger(__name__)


def on_booking_failed(matching: Matching) -> Handler:
    async def handle(event: BookingFailed, envelope: Envelope) -> None:
        """Proposes again without the therapists who had no slot for the client."""
        proposal = await matching.proposals.get(event.match_id)
        if proposal is None:
            log.warning("booking failed for an unknown match", match_id=event.match_id)
            return
        ours = proposal["status"] == proposals.FAILED and proposal.get("closed_by") == envelope.id
        if proposal["status"] not in proposals.HOLDING and not ours:
            await release_holds(matching, proposal)  # stale: the proposal moved on already
            return
        now = matching.clock()
        next_id = match_id_for("after", envelope.id)
        closing = proposals.close(
            proposals.FAILED,
            now,
            closed_by=envelope.id,
            only_from=proposals.HOLDING,
            successor=next_id,
            failure_reason=event.reason,
        )
        await matching.proposals.update(event.match_id, closing, cause=envelope)
        await release_holds(matching, proposal)
        candidates = proposals.candidate_ids(proposal)
        tried = list(event.tried_therapist_ids) or candidates
        await matching.clients.update(event.client_id, client_state.exclude(tried, client_state.NO_SLOT, now))
        if not candidates:
            log.info(
                "booking failed for a proposal without candidates: not proposed again",
                match_id=event.match_id,
            )
            return
        await propose_again(
            matching,
            event.client_id,
            match_id=next_id,
            cause=envelope,
            origin="booking_failed",
            predecessor=event.match_id,
            sequence=int(proposal.get("sequence", 1)) + 1,
        )

    return handle
