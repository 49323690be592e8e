"""session-cancelled: a cancelled first session means care with that therapist never began.

Only the first session (`sequence == 1`) changes the caseload; a later cancelled session
is one missed appointment in an ongoing course. Booking another first session counts the
client in again. The place freed re-matches the waitlist (`rematch_waitlist`).
"""

from __future__ import annotations

from services.matching.commands.rematch_waitlist import rematch_waitlist
from services.matching.commands.update_client import update_client
from services.matching.context import Matching
from services.matching.store import clients as client_state
from services.matching.store.therapists import end_care
from shared.events.envelope import Envelope
from shared.events.models import SessionCancelled
from shared.messaging.subscriptions import Handler


def on_session_cancelled(matching: Matching) -> Handler:
    async def handle(event: SessionCancelled, envelope: Envelope) -> None:
        """Takes the client out of the caseload after a cancelled first session; re-matches the waitlist."""
        if event.sequence != 1:
            return
        now = matching.clock()
        await matching.change_therapists([(event.therapist_id, end_care(event.client_id, now))])
        change = client_state.in_care_with(None, now, only_if=event.therapist_id)
        await update_client(matching, event.client_id, change, cause=envelope)
        await rematch_waitlist(matching, [event.therapist_id], cause=envelope)

    return handle
