"""session-booked: the proposal is booked, its holds released; a first session starts care.

A client's first session with a therapist (`sequence == 1`) puts them in the therapist's
caseload, which is how caseload is ever counted; when the client was in care with another
therapist, that is a switch taking effect, and they leave the former's caseload. The
proposal is the event's `match_id`, or else the client's current one.
"""

from __future__ import annotations

from services.matching.commands.release_holds import release_holds
from services.matching.context import Matching
from services.matching.store import clients as client_state
from services.matching.store import proposals
from services.matching.store.therapists import end_care, start_care
from shared.events.envelope import Envelope
from shared.events.models import SessionBooked
from shared.messaging.subscriptions import Handler
from shared.observability.logs import get_logger

log = get_logger(__name__)


def on_session_booked(matching: Matching) -> Handler:
    async def handle(event: SessionBooked, envelope: Envelope) -> None:
        """Counts the client in the therapist's caseload and releases the proposal's holds."""
        now = matching.clock()
        client = await matching.clients.get(event.client_id)
        match_id = event.match_id or (client or {}).get("current_match_id")
        former = (client or {}).get("therapist_id")
        if event.sequence == 1 and former and former != event.therapist_id:
            # A switch took effect: the client's first session with someone else.
            await matching.change_therapists([(former, end_care(event.client_id, now))])
        if event.sequence == 1:
            written = await matching.change_therapists(
                [(event.therapist_id, start_care(event.client_id, match_id, now))]
            )
            if event.therapist_id not in written:
                log.warning(
                    "session booked with a therapist not in the directory", therapist_id=event.therapist_id
                )
            if client is not None:
                await matching.clients.update(
                    event.client_id, client_state.in_care_with(event.therapist_id, now)
                )
        proposal = await matching.proposals.get(match_id) if match_id else None
        if proposal is not None and proposal["status"] in proposals.HOLDING:
            await matching.proposals.update(
                proposal["_id"], proposals.book(event.therapist_id, now), cause=envelope
            )
        if proposal is not None:
            await release_holds(matching, proposal, keep=event.therapist_id)

    return handle
