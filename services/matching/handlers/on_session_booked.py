"""session-booked: the caseload, the proposal booked, a client's own booking as their choice.

See `commands/record_booking.py`: a first session starts care (and a switch takes
effect); the client's own booking of a proposed therapist's introduction accepts the match
(`match-accepted`); the client's care relationships fold the booking.
"""

from __future__ import annotations

from services.matching.commands.record_booking import RecordBooking, record_booking
from services.matching.context import MatchingContext
from shared.events.envelope import Envelope
from shared.events.models import SessionBooked
from shared.messaging.subscriptions import Handler


def on_session_booked(ctx: MatchingContext) -> Handler:
    async def handle(event: SessionBooked, envelope: Envelope) -> None:
        """Counts the client in the therapist's caseload, books the proposal, records a client's choice."""
        await record_booking(RecordBooking(event, envelope), ctx)

    return handle
