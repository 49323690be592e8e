"""`session-booked` → a client who booked a proposed therapist's introduction chose them.

Only the client's own booking of an introduction is a choice (`booked_by: "client"`):
a booking by the system (`book_at_once`), a clinician or an admin, or a session of the
series, grants nothing (DESIGN §2: access follows the client's consent, not a calendar).
"""

from __future__ import annotations

from services.intake.commands.follow_care import FollowCare, follow_care
from services.intake.context import IntakeContext
from shared.events.envelope import Envelope
from shared.events.models import SessionBooked
from shared.messaging.subscriptions import Handler


def on_session_booked(ctx: IntakeContext) -> Handler:
    async def handle(event: SessionBooked, envelope: Envelope) -> None:
        """Fold the booking; the shared state machine decides whether it was a choice."""
        await follow_care(FollowCare(event.client_id, event, envelope), ctx)

    return handle
