"""therapist-availability-changed: the hours scoring uses, and a waitlist trigger.

See `commands/record_availability.py`.
"""

from __future__ import annotations

from services.matching.commands.record_availability import RecordAvailability, record_availability
from services.matching.context import MatchingContext
from shared.events.envelope import Envelope
from shared.events.models import TherapistAvailabilityChanged
from shared.messaging.subscriptions import Handler


def on_therapist_availability_changed(ctx: MatchingContext) -> Handler:
    async def handle(event: TherapistAvailabilityChanged, envelope: Envelope) -> None:
        """Keeps the therapist's weekly hours for availability overlap; re-matches the waitlist."""
        await record_availability(RecordAvailability(event, envelope), ctx)

    return handle
