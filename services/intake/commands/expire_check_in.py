"""Expire an unanswered check-in as missed, and tell everyone (`check-in-missed`).

Fired by the check-in's expiry timer (`INTAKE_CHECK_IN_EXPIRY_DAYS` after it fell due).
The missed state and its event are one write of the check-in document (its outbox), and
the write happens only while the check-in is still pending: an answer that came first
stands, and an answer that comes later is refused. The event's id derives from the
timer (`Timer.event_id`), so two replicas that both fire it, or one that fires it again
after a crash, publish one event in effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.intake.context import IntakeContext
from services.intake.domain.check_ins import EarlierCheckIn, consecutive_missed, expires
from services.intake.domain.client_record import ClientRecord
from services.intake.store.check_ins import due_envelope
from services.intake.store.client_records import client_record
from services.intake.store.intakes import latest_submitted
from shared.clock import stored_instant
from shared.events.envelope import new_event
from shared.events.models import CheckInMissed
from shared.observability.logs import get_logger
from shared.storage import Document
from shared.storage.documents import Revision

log = get_logger(__name__)

LONGEST_RUN = 1000
"""The most misses in a row counted (the event's bound)."""


@dataclass(frozen=True, slots=True)
class ExpireCheckIn:
    check_in_id: str
    event_id: str
    """The id of the `check-in-missed` it may publish: derived from the timer that fired."""
    now: datetime


async def expire_check_in(command: ExpireCheckIn, ctx: IntakeContext) -> Document | None:
    """The check-in after its expiry: missed if it was still pending, else as it was."""
    check_in_id = command.check_in_id
    check_in = await ctx.check_ins.get(check_in_id)
    if check_in is None or not expires(check_in["status"]):
        return check_in
    client_id = str(check_in["client_id"])
    record = await client_record(ctx.clients, client_id)
    earlier = await _earlier(ctx, record, check_in_id)
    missed_at = stored_instant(command.now)
    run = min(consecutive_missed(earlier, expiry=ctx.check_in_expiry, now=missed_at), LONGEST_RUN)
    baseline = await latest_submitted(ctx.intakes, record.intake_ids)
    cause = due_envelope(check_in)
    missed = CheckInMissed(
        check_in_id=check_in_id,
        client_id=client_id,
        therapist_id=str(check_in["therapist_id"]),
        due_at=check_in["due_at"],
        missed_at=missed_at,
        consecutive_missed=run,
    )
    journey = str((baseline or {}).get("correlation_id") or cause.correlation_id)
    event = new_event(
        missed, source="intake", cause=cause, correlation_id=journey, event_id=command.event_id, now=missed_at
    )

    def change(current: Document) -> Revision | None:
        if not expires(current["status"]):
            return None  # answered (or expired) meanwhile: that stands, nothing is published
        return Revision(
            {**current, "status": "missed", "missed_at": missed_at, "consecutive_missed": run}, [event]
        )

    stored = await ctx.check_ins.update(check_in_id, change)
    if stored is not None and stored.get("missed_at") == missed_at:
        log.info("check-in missed", check_in_id=check_in_id, client_id=client_id, consecutive_missed=run)
    return stored


async def _earlier(ctx: IntakeContext, record: ClientRecord, check_in_id: str) -> list[EarlierCheckIn]:
    """The client's check-ins before this one, newest first, as far as the run of misses goes."""
    listed = list(record.check_in_ids)
    before = listed[: listed.index(check_in_id)] if check_in_id in listed else listed
    found: list[EarlierCheckIn] = []
    for earlier_id in reversed(before[-LONGEST_RUN:]):
        earlier = await ctx.check_ins.get(earlier_id)
        if earlier is None:
            continue
        found.append(EarlierCheckIn(status=earlier["status"], due_at=earlier["due_at"]))
        if earlier["status"] == "completed":
            break  # an answered check-in ends the run: nothing older counts
    return found
