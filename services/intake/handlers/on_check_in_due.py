"""`check-in-due` → a pending check-in for the client to answer, and the timer that expires it.

Redelivery changes nothing: both writes carry the event as their cause, a check-in whose
id exists already (scheduling re-firing under a new event id) is kept as it is, and the
expiry timer's id is the check-in's, so scheduling it again is a no-op. The timer is
scheduled after the check-in is stored, every time: a crash in between is mended by the
redelivery, and a timer never fires for a check-in that does not exist.
"""

from __future__ import annotations

from datetime import timedelta

from services.intake.commands.times import stored_time
from services.intake.domain.check_ins import expires_at
from services.intake.store import IntakeStores
from services.intake.store.check_ins import expiry_timer_id, pending_check_in
from services.intake.store.client_records import record_check_in
from shared.events.envelope import Envelope
from shared.events.models import CheckInDue
from shared.messaging.consumption import PermanentError
from shared.messaging.subscriptions import Handler
from shared.observability.logs import get_logger
from shared.ports import Clock, Timers
from shared.storage import AlreadyExists

log = get_logger(__name__)

CHECK_IN_EXPIRY = "check-in-expiry"
"""The timer kind that expires an unanswered check-in as missed."""


def on_check_in_due(stores: IntakeStores, clock: Clock, timers: Timers, *, expiry: timedelta) -> Handler:
    async def handle(event: CheckInDue, envelope: Envelope) -> None:
        """Create a pending check-in for the client (once per check-in id) and its expiry."""
        await stores.clients.upsert(
            event.client_id, record_check_in(event.client_id, event.check_in_id), cause=envelope
        )
        check_in = pending_check_in(event, envelope, created_at=stored_time(clock()))
        try:
            created = await stores.check_ins.insert(check_in, cause=envelope)
        except AlreadyExists:
            existing = await stores.check_ins.get(event.check_in_id)
            if existing is not None and existing["client_id"] != event.client_id:
                raise PermanentError("check_in_id belongs to another client") from None
            created = False
        await timers.schedule(
            expiry_timer_id(event.check_in_id),
            CHECK_IN_EXPIRY,
            expires_at(stored_time(event.due_at), expiry),
            {"check_in_id": event.check_in_id},
        )
        if created:
            log.info("check-in pending", check_in_id=event.check_in_id, client_id=event.client_id)

    return handle
