"""`timers.DELIVERY` → attempt the delivery (its outcome's event goes out with the delivery)."""

from __future__ import annotations

from services.notifications.commands.deliver import AttemptDelivery, attempt_delivery
from services.notifications.context import NotificationsContext
from shared.events.envelope import OutgoingEvent
from shared.storage.timers import Timer, TimerHandler


def on_delivery_timer(ctx: NotificationsContext) -> TimerHandler:
    async def handle(timer: Timer) -> list[OutgoingEvent]:
        """A delivery is due: attempt it."""
        attempt = AttemptDelivery(str(timer.payload["delivery_id"]), int(timer.payload["attempt"]))
        await attempt_delivery(attempt, ctx)
        return []

    return handle
