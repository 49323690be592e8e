"""`session-booked` → the session's therapist becomes one of the client's clinicians.

That is how the intake service learns who may read and write a client's record as their
clinician (DESIGN §7: a clinician sees their own clients). Idempotent: adding a therapist
already listed writes nothing.
"""

from __future__ import annotations

from services.intake.store import IntakeStores
from services.intake.store.client_records import record_therapist
from shared.events.envelope import Envelope
from shared.events.models import SessionBooked
from shared.messaging.subscriptions import Handler


def on_session_booked(stores: IntakeStores) -> Handler:
    async def handle(event: SessionBooked, envelope: Envelope) -> None:
        """Record the session's therapist as one of the client's clinicians."""
        await stores.clients.upsert(
            event.client_id, record_therapist(event.client_id, event.therapist_id), cause=envelope
        )

    return handle
