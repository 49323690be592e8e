"""Open a check-in scheduling said is due: a pending check-in for the client, and the timer that expires it.

Opening it again changes nothing: both writes carry the due event as their cause, a
check-in whose id exists already (scheduling re-firing under a new event id) is kept as
it is, and the expiry timer's id is the check-in's, so scheduling it again is a no-op.
The timer is scheduled after the check-in is stored, every time: a crash in between is
mended by the redelivery, and a timer never fires for a check-in that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.intake import timers
from services.intake.context import IntakeContext
from services.intake.domain.check_ins import expires_at
from services.intake.store.check_ins import pending_check_in
from services.intake.store.client_records import record_check_in
from shared.clock import stored_instant
from shared.events.envelope import Envelope
from shared.events.models import CheckInDue
from shared.observability.logs import get_logger
from shared.refusals import Conflict
from shared.storage import AlreadyExists

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class OpenCheckIn:
    due: CheckInDue
    cause: Envelope
    """The `check-in-due` envelope: the writes' cause, and the cause of the check-in's events."""
    now: datetime


async def open_check_in(command: OpenCheckIn, ctx: IntakeContext) -> None:
    """Refused when the check-in id is another client's: no redelivery can ever make it fit."""
    due, cause = command.due, command.cause
    await ctx.clients.upsert(due.client_id, record_check_in(due.client_id, due.check_in_id), cause=cause)
    check_in = pending_check_in(due, cause, created_at=stored_instant(command.now))
    try:
        created = await ctx.check_ins.insert(check_in, cause=cause)
    except AlreadyExists:
        existing = await ctx.check_ins.get(due.check_in_id)
        if existing is not None and existing["client_id"] != due.client_id:
            raise Conflict("check_in_id belongs to another client") from None
        created = False
    await ctx.timers.schedule(
        timers.check_in_expiry_timer_id(due.check_in_id),
        timers.CHECK_IN_EXPIRY,
        expires_at(stored_instant(due.due_at), ctx.check_in_expiry),
        {"check_in_id": due.check_in_id},
    )
    if created:
        log.info("check-in pending", check_in_id=due.check_in_id, client_id=due.client_id)
