"""booking-failed: release the proposal's holds and propose again without who had no slot
(`commands/record_failed_booking.py`)."""

from __future__ import annotations

from services.matching.commands.record_failed_booking import RecordFailedBooking, record_failed_booking
from services.matching.context import MatchingContext
from shared.events.envelope import Envelope
from shared.events.models import BookingFailed
from shared.messaging.subscriptions import Handler


def on_booking_failed(ctx: MatchingContext) -> Handler:
    async def handle(event: BookingFailed, envelope: Envelope) -> None:
        """Proposes again without the therapists who had no slot for the client."""
        await record_failed_booking(RecordFailedBooking(event, envelope), ctx)

    return handle
