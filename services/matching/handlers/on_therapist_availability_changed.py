"""therapist-availability-changed: the availability read model scoring uses, and a waitlist trigger.

The therapist's weekly hours (their time zone) feed availability overlap; new hours (or
openness to new clients) may let a waiting client be matched, so the waitlist is
re-matched for this therapist, oldest first (`rematch_waitlist`; nobody waiting: one read).
"""

from __future__ import annotations

from services.matching.commands.rematch_waitlist import rematch_waitlist
from services.matching.context import Matching
from services.matching.store import journal
from services.matching.store.therapists import set_availability
from shared.events.envelope import Envelope
from shared.events.models import TherapistAvailabilityChanged
from shared.messaging.subscriptions import Handler


def on_therapist_availability_changed(matching: Matching) -> Handler:
    async def handle(event: TherapistAvailabilityChanged, envelope: Envelope) -> None:
        """Keeps the therapist's weekly hours for availability overlap; re-matches the waitlist."""
        stored = await matching.therapists.upsert(
            event.therapist_id, set_availability(event, matching.clock())
        )
        matching.directory.apply(journal.THERAPISTS, stored)
        await matching.directory.record([journal.ref(journal.THERAPISTS, event.therapist_id)])
        await rematch_waitlist(matching, [event.therapist_id], cause=envelope)

    return handle
