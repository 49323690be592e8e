"""`check-in-due` → a pending check-in for the client to answer.

Redelivery changes nothing: both writes carry the event as their cause, and a check-in
whose id exists already (scheduling re-firing under a new event id) is kept as it is, so
one due check-in is one check-in whatever arrives twice.
"""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from services.intake.commands.times import stored_time
from services.intake.store import IntakeStores
from services.intake.store.check_ins import pending_check_in
from services.intake.store.client_records import record_check_in
from shared.events.envelope import Envelope
from shared.events.models import CheckInDue
from shared.messaging.consumption import PermanentError
from shared.messaging.subscriptions import Handler
from shared.observability.logs import get_logger
from shared.ports import Clock

log = get_logger(__name__)


def on_check_in_due(stores: IntakeStores, clock: Clock) -> Handler:
    async def handle(event: CheckInDue, envelope: Envelope) -> None:
        """Create a pending check-in for the client (once per check-in id)."""
        await stores.clients.upsert(
            event.client_id, record_check_in(event.client_id, event.check_in_id), cause=envelope
        )
        check_in = pending_check_in(event, envelope, created_at=stored_time(clock()))
        try:
            created = await stores.check_ins.insert(check_in, cause=envelope)
        except DuplicateKeyError:
            existing = await stores.check_ins.get(event.check_in_id)
            if existing is not None and existing["client_id"] != event.client_id:
                raise PermanentError("check_in_id belongs to another client") from None
            created = False
        if created:
            log.info("check-in pending", check_in_id=event.check_in_id, client_id=event.client_id)

    return handle
