"""An unanswered check-in is reminded of once; an answer or an expiry stops the reminder.

`check-in-due` opens the check-in (`check_ins`, by id) and sets its one reminder timer
(`check-in-reminder:{check_in_id}`, idempotent by id, so a redelivery sets nothing more).
`check-in-completed` and `check-in-missed` close it and cancel the timer. Those events
arrive on other topics, in no order with `check-in-due` and possibly while the timer
fires, so the timer checks the check-in when it fires and goes only while it is open; a
check-in closed first is never opened, so its reminder is never set.

A reminder that fired is named in the check-in (`reminder_event_id`, which also keys its
deliveries: one per channel, however often the timer fires). Closing the check-in
withdraws what of it has not gone yet (held through quiet hours, waiting for a retry),
and the timer, after claiming its deliveries, looks once more: whichever of the two writes
last sees the other, so no reminder is sent after the answer was known here.

Opening asks the client to answer; closing tells the therapist when the answer (or a run
of misses) needs their attention.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.notifications import timers
from services.notifications.commands.deliver import WithdrawDelivery, withdraw_delivery
from services.notifications.commands.notify import Notify, notify
from services.notifications.context import NotificationsContext
from services.notifications.domain import audience
from services.notifications.domain.channels import CHANNELS
from services.notifications.domain.check_ins import CheckInStatus, reminder_time, reminder_timer_id
from services.notifications.domain.delivery import Origin, delivery_id
from services.notifications.store import check_ins
from shared.events.envelope import Envelope
from shared.events.models import CheckInDue
from shared.observability.logs import get_logger

log = get_logger(__name__)

WITHDRAWN = "check_in_closed"


@dataclass(frozen=True, slots=True)
class OpenCheckIn:
    due: CheckInDue
    cause: Envelope


async def open_check_in(command: OpenCheckIn, ctx: NotificationsContext) -> None:
    """Remember the check-in, set its reminder and ask the client; nothing when it closed already."""
    event, cause = command.due, command.cause
    timer_id = reminder_timer_id(event.check_in_id)
    remind_at = reminder_time(event.due_at, ctx.policy.check_in_reminder_after)
    check_in = await ctx.stores.check_ins.upsert(
        event.check_in_id,
        check_ins.opened(event, cause.correlation_id, reminder_timer_id=timer_id, remind_at=remind_at),
        cause=cause,
    )
    if check_in is None or check_in["status"] != CheckInStatus.open:
        log.info("check-in closed before it was due here; no reminder", check_in_id=event.check_in_id)
        return
    await ctx.timers.schedule(
        timer_id, timers.CHECK_IN_REMINDER, remind_at, {"check_in_id": event.check_in_id}
    )
    await notify(Notify.answering(audience.check_in_due(event), event, cause), ctx)


@dataclass(frozen=True, slots=True)
class CloseCheckIn:
    """The check-in was answered or missed (`status`); `announcement` tells whom that concerns
    (the therapist, on deterioration or repeated misses: `audience.check_in_completed`/`_missed`)."""

    check_in_id: str
    client_id: str
    status: CheckInStatus
    cause: Envelope
    announcement: Notify


async def close_check_in(command: CloseCheckIn, ctx: NotificationsContext) -> None:
    """Cancel the reminder, withdraw it if it fired and has not gone yet; then tell whom it concerns."""
    check_in = await ctx.stores.check_ins.upsert(
        command.check_in_id,
        check_ins.closed(client_id=command.client_id, status=command.status, at=command.cause.time),
        cause=command.cause,
    )
    await ctx.timers.cancel(reminder_timer_id(command.check_in_id))
    if check_in is not None:
        await _withdraw_reminder(ctx, check_in)
    await notify(command.announcement, ctx)


@dataclass(frozen=True, slots=True)
class RemindOfCheckIn:
    """The reminder timer `timer_id` of `check_in_id` fired, as `event_id`."""

    check_in_id: str
    event_id: str
    timer_id: str


async def remind_of_check_in(command: RemindOfCheckIn, ctx: NotificationsContext) -> None:
    """Remind the client of their check-in, if it is still open."""
    check_in_id = command.check_in_id
    check_in = await ctx.stores.check_ins.update(check_in_id, check_ins.reminded(command.event_id))
    if check_in is None or check_in["status"] != CheckInStatus.open:
        log.info("check-in answered or missed; no reminder", check_in_id=check_in_id)
        return
    notices = audience.check_in_reminder(
        check_in_id=check_in_id, client_id=check_in["client_id"], due_at=check_in["due_at"]
    )
    origin = Origin(command.event_id, "check-in-reminder", check_in.get("correlation_id") or command.timer_id)
    await notify(Notify(tuple(notices), origin), ctx)
    now = await ctx.stores.check_ins.get(check_in_id)
    if now is not None and now["status"] != CheckInStatus.open:
        await _withdraw_reminder(ctx, now)  # closed while the deliveries were claimed


async def _withdraw_reminder(ctx: NotificationsContext, check_in: Mapping[str, Any]) -> None:
    event_id = check_in.get("reminder_event_id")
    if not event_id:
        return
    for channel in CHANNELS:
        await withdraw_delivery(
            WithdrawDelivery(delivery_id(event_id, check_in["client_id"], channel), WITHDRAWN), ctx
        )
