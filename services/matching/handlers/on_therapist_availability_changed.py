"""therapist-availability-changed: the availability read model scoring uses for overlap."""

from __future__ import annotations

from services.matching.context import Matching
from services.matching.store import journal
from services.matching.store.therapists import set_availability
from shared.events.envelope import Envelope
from shared.events.models import TherapistAvailabilityChanged
from shared.messaging.subscriptions import Handler


def on_therapist_availability_changed(matching: Matching) -> Handler:
    async def handle(event: TherapistAvailabilityChanged, envelope: Envelope) -> None:
        """Keeps the therapist's weekly hours (their time zone) for availability overlap."""
        stored = await matching.therapists.upsert(
            event.therapist_id, set_availability(event, matching.clock())
        )
        matching.directory.apply(journal.THERAPISTS, stored)
        await matching.directory.record([journal.ref(journal.THERAPISTS, event.therapist_id)])

    return handle
