"""session-cancelled: a cancelled first session means care with that therapist never began.

Only the first session (`sequence == 1`) changes the caseload; a later cancelled session
is one missed appointment in an ongoing course. Booking another first session counts the
client in again.
"""

from __future__ import annotations

from services.matching.context import Matching
from services.matching.store import clients as client_state
from services.matching.store.therapists import end_care
from shared.events.envelope import Envelope
from shared.events.models import SessionCancelled
from shared.messaging.subscriptions import Handler


def on_session_cancelled(matching: Matching) -> Handler:
    async def handle(event: SessionCancelled, envelope: Envelope) -> None:
        """Takes the client out of the therapist's caseload when their first session is cancelled."""
        if event.sequence != 1:
            return
        now = matching.clock()
        await matching.change_therapists([(event.therapist_id, end_care(event.client_id, now))])
        await matching.clients.update(
            event.client_id, client_state.in_care_with(None, now, only_if=event.therapist_id)
        )

    return handle
