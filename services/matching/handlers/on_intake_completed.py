"""intake-completed: keep the client's intake and propose therapists (`propose_matches`).

The client's record is read first (exclusions, the proposal a new intake replaces, which
becomes the new one's predecessor); the write recording the intake (linking the proposal,
ending a wait on the waitlist) runs while ranking and holds do, and is stored before the
proposal is, so a client who sees the proposal can decline it at once. The write is
idempotent (same intake, same proposal).
"""

from __future__ import annotations

from datetime import datetime

from services.matching.commands.propose_matches import match_id_for, propose_matches
from services.matching.commands.release_holds import release_holds
from services.matching.commands.update_client import upsert_client
from services.matching.context import Matching
from services.matching.store import clients as client_state
from services.matching.store import proposals
from shared.events.envelope import Envelope
from shared.events.models import IntakeCompleted
from shared.messaging.subscriptions import Handler
from shared.observability.logs import get_logger

log = get_logger(__name__)


def on_intake_completed(matching: Matching) -> Handler:
    async def handle(event: IntakeCompleted, envelope: Envelope) -> None:
        """Proposes the best-fitting therapists for the client's intake (match-proposed)."""
        match_id = match_id_for("intake", event.intake_id)
        client = await matching.clients.get(event.client_id) or {}
        held = client.get("intake") or {}
        newer = bool(held) and datetime.fromisoformat(held["submitted_at"]) > event.submitted_at
        if newer and held["intake_id"] != event.intake_id:
            log.info("older intake ignored: a newer one was handled", intake_id=event.intake_id)
            return
        current = client.get("current_match_id")
        # Recorded already (a redelivery after a crash): the one it replaced is kept.
        replaced = current if current != match_id else client.get("replaced_match_id")
        if replaced and held.get("intake_id") != event.intake_id:
            await _supersede(matching, replaced, by=match_id)
        record = client_state.record_intake(
            event, envelope.correlation_id, matching.clock(), match_id=match_id
        )
        await propose_matches(
            matching,
            event.client_id,
            event,
            match_id=match_id,
            cause=envelope,
            excluded=client_state.excluded_ids(client),
            predecessor=replaced,
            alongside=upsert_client(matching, event.client_id, record),
        )

    return handle


async def _supersede(matching: Matching, match_id: str, *, by: str) -> None:
    """A new intake replaces an open proposal of the last one: its holds go back."""
    proposal = await matching.proposals.get(match_id)
    if proposal is None or proposal["status"] not in proposals.HOLDING:
        return
    closing = proposals.close(
        proposals.SUPERSEDED, matching.clock(), closed_by=by, only_from=proposals.HOLDING, successor=by
    )
    await matching.proposals.update(match_id, closing)
    await release_holds(matching, proposal)
