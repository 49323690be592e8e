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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.notifications.commands.deliver import withdraw
from services.notifications.commands.dispatch import CHECK_IN_REMINDER_TIMER, Dispatch
from services.notifications.commands.notify import notify
from services.notifications.domain import audience
from services.notifications.domain.check_ins import CheckInStatus, reminder_time, reminder_timer_id
from services.notifications.domain.delivery import Origin, delivery_id
from services.notifications.domain.preferences import CHANNELS
from services.notifications.store import check_ins
from shared.events.envelope import Envelope, OutgoingEvent
from shared.events.models import CheckInDue
from shared.observability.logs import get_logger
from shared.storage.timers import Timer, TimerHandler

log = get_logger(__name__)

WITHDRAWN = "check_in_closed"


async def open_check_in(dispatch: Dispatch, event: CheckInDue, envelope: Envelope) -> bool:
    """Remember the check-in and set its reminder; False when it was answered or missed already."""
    timer_id = reminder_timer_id(event.check_in_id)
    remind_at = reminder_time(event.due_at, dispatch.policy.check_in_reminder_after)
    check_in = await dispatch.stores.check_ins.upsert(
        event.check_in_id,
        check_ins.opened(event, envelope.correlation_id, reminder_timer_id=timer_id, remind_at=remind_at),
        cause=envelope,
    )
    if check_in is None or check_in["status"] != CheckInStatus.open:
        log.info("check-in closed before it was due here; no reminder", check_in_id=event.check_in_id)
        return False
    await dispatch.timers.schedule(
        timer_id, CHECK_IN_REMINDER_TIMER, remind_at, {"check_in_id": event.check_in_id}
    )
    return True


async def close_check_in(
    dispatch: Dispatch, check_in_id: str, client_id: str, status: CheckInStatus, envelope: Envelope
) -> None:
    """Answered or missed: cancel the reminder, and withdraw it if it fired and has not gone yet."""
    check_in = await dispatch.stores.check_ins.upsert(
        check_in_id, check_ins.closed(client_id=client_id, status=status, at=envelope.time), cause=envelope
    )
    await dispatch.timers.cancel(reminder_timer_id(check_in_id))
    if check_in is not None:
        await _withdraw_reminder(dispatch, check_in)


def fire_check_in_reminder(dispatch: Dispatch) -> TimerHandler:
    async def handle(timer: Timer) -> list[OutgoingEvent]:
        """Remind the client of their check-in, if it is still open."""
        check_in_id = str(timer.payload["check_in_id"])
        event_id = timer.event_id("reminder")
        check_in = await dispatch.stores.check_ins.update(check_in_id, check_ins.reminded(event_id))
        if check_in is None or check_in["status"] != CheckInStatus.open:
            log.info("check-in answered or missed; no reminder", check_in_id=check_in_id)
            return []
        notices = audience.check_in_reminder(
            check_in_id=check_in_id, client_id=check_in["client_id"], due_at=check_in["due_at"]
        )
        origin = Origin(event_id, "check-in-reminder", check_in.get("correlation_id") or timer.id)
        await notify(dispatch, notices, origin)
        now = await dispatch.stores.check_ins.get(check_in_id)
        if now is not None and now["status"] != CheckInStatus.open:
            await _withdraw_reminder(dispatch, now)  # closed while the deliveries were claimed
        return []

    return handle


async def _withdraw_reminder(dispatch: Dispatch, check_in: Mapping[str, Any]) -> None:
    event_id = check_in.get("reminder_event_id")
    if not event_id:
        return
    for channel in CHANNELS:
        await withdraw(dispatch, delivery_id(event_id, check_in["client_id"], channel), WITHDRAWN)
