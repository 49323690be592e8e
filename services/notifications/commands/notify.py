"""Turn notices into deliveries: one per (event, recipient, channel), claimed by a unique insert.

For each notice the recipient's channels, opt-outs and quiet hours decide on which
channels and from when the message goes (a critical one: every channel, at once). Each
delivery is inserted under its key; whoever inserts it owns its first attempt. A
non-critical delivery is attempted by its timer (due now, or when quiet hours end), so a
slow provider never holds up a Kafka partition; a critical one is attempted right here,
all channels at once, and only its retries wait for timers. A delivery that exists
already (the event came again) only gets its timer made sure of. A risk message's
deliveries go on the watch list of undelivered risk alerts before their first attempt
(`store/alerts.py`), so the metrics see them until they reach someone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from services.notifications.commands.deliver import AttemptDelivery, attempt_delivery, schedule_attempt
from services.notifications.context import NotificationsContext
from services.notifications.domain.audience import Notice
from services.notifications.domain.channels import available_channels
from services.notifications.domain.delivery import Origin, new_delivery
from services.notifications.domain.preferences import deliverable_channels, release_at
from services.notifications.domain.risk_alerts import is_watched
from services.notifications.store.alerts import UNDELIVERED, watched
from services.notifications.store.indexes import listed
from services.notifications.store.recipients import contacts_of, preferences_of, zone_of
from shared.events.envelope import Envelope
from shared.events.registry import spec_for
from shared.observability.logs import get_logger
from shared.storage import AlreadyExists, Document

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Notify:
    """Tell each notice's recipient what `origin` says; `cause` is the consumed event, if any."""

    notices: tuple[Notice, ...]
    origin: Origin
    cause: Envelope | None = None

    @classmethod
    def answering(cls, notices: Sequence[Notice], event: BaseModel, envelope: Envelope) -> Notify:
        """Notify for a consumed event: its id keys the deliveries, its envelope is their cause."""
        origin = Origin(
            event_id=envelope.id,
            event_type=spec_for(type(event)).name,
            correlation_id=envelope.correlation_id,
        )
        return cls(tuple(notices), origin, cause=envelope)


async def notify(command: Notify, ctx: NotificationsContext) -> list[Document]:
    """Claim every notice's deliveries; attempt the critical ones now, schedule the rest."""
    claimed: list[tuple[Document, bool]] = []
    for notice in command.notices:
        claimed.extend(await _claim(ctx, notice, command.origin, command.cause))
    if watch := [d["_id"] for d, _ in claimed if is_watched(d)]:
        await ctx.stores.alerts.upsert(UNDELIVERED, watched(watch))
    now_ids = [d["_id"] for d, inserted in claimed if inserted and d["critical"]]
    for delivery, inserted in claimed:
        if not (inserted and delivery["critical"]):
            await schedule_attempt(ctx, delivery)
    outcomes = await asyncio.gather(
        *(attempt_delivery(AttemptDelivery(i, 0), ctx) for i in now_ids), return_exceptions=True
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome  # the event comes again; claimed deliveries then go by timer
    return [delivery for delivery, _ in claimed]


async def _claim(
    ctx: NotificationsContext, notice: Notice, origin: Origin, cause: Envelope | None
) -> list[tuple[Document, bool]]:
    recipient = await ctx.stores.recipients.get(notice.recipient_id)
    preferences = preferences_of(recipient)
    channels = deliverable_channels(
        available_channels(contacts_of(recipient, notice.recipient_id)),
        preferences,
        notice.kind,
        critical=notice.critical,
    )
    now = ctx.clock()
    not_before = (
        now
        if notice.critical
        else release_at(now, preferences.quiet_hours, zone_of(recipient, notice.context.get("timezone")))
    )
    if notice.expires_at is not None and not_before >= notice.expires_at:
        log.info(
            "message would go after it stops mattering; not sent",
            recipient_id=notice.recipient_id,
            kind=notice.kind.value,
            event_id=origin.event_id,
        )
        return []
    claimed: list[tuple[Document, bool]] = []
    for channel in channels:
        delivery = new_delivery(notice, channel, origin, now=now, not_before=not_before)
        try:
            inserted = await ctx.stores.deliveries.insert(delivery, cause=cause)
        except AlreadyExists:
            inserted = False
        stored = delivery if inserted else await ctx.stores.deliveries.get(delivery["_id"])
        claimed.append((stored or delivery, inserted))
    if claimed:
        ids = [delivery["_id"] for delivery, _ in claimed]
        await ctx.stores.delivery_logs.upsert(notice.recipient_id, listed("deliveries", ids))
    if not_before > now:
        log.info(
            "held for quiet hours",
            recipient_id=notice.recipient_id,
            kind=notice.kind.value,
            until=not_before.isoformat(),
        )
    return claimed
