"""session-cancelled: a cancelled first session means care with that therapist never began.

Only the first session (`sequence == 1`) ends care (`commands/end_care.py`); a later
cancelled session is one missed appointment in an ongoing course.
"""

from __future__ import annotations

from services.matching.commands.end_care import EndCare, end_care
from services.matching.context import MatchingContext
from shared.events.envelope import Envelope
from shared.events.models import SessionCancelled
from shared.messaging.subscriptions import Handler


def on_session_cancelled(ctx: MatchingContext) -> Handler:
    async def handle(event: SessionCancelled, envelope: Envelope) -> None:
        """Takes the client out of the caseload after a cancelled first session; re-matches the waitlist."""
        if event.sequence == 1:
            await end_care(EndCare(event.client_id, event.therapist_id, envelope), ctx)

    return handle
