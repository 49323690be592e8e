"""Follow the client's care relationships from the events that move them (DESIGN §2).

Matching's proposals, acceptances and declines, the client's own booking of an
introduction and the therapist's record of it being held each change what a therapist
may see of the client's record. Every one is folded into the client's record by the
shared state machine, in one write whose cause is the event, so a redelivery changes
nothing and the events' order across topics does not matter (the fold keeps the time of
each relationship's last change; an older event changes nothing).
"""

from __future__ import annotations

from pydantic import BaseModel

from services.intake.store import IntakeStores
from services.intake.store.client_records import record_care_event
from shared.events.envelope import Envelope


async def follow_care(stores: IntakeStores, client_id: str, event: BaseModel, envelope: Envelope) -> None:
    """Fold `event` (which happened at its `ce_time`) into `client_id`'s relationships."""
    await stores.clients.upsert(client_id, record_care_event(client_id, event, envelope.time), cause=envelope)
