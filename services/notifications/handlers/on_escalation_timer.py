"""`timers.ESCALATION` → page the next on-call clinician if a page reached nobody."""

from __future__ import annotations

from services.notifications.commands.page_on_call import EscalatePage, escalate_page
from services.notifications.context import NotificationsContext
from shared.events.envelope import OutgoingEvent
from shared.storage.timers import Timer, TimerHandler


def on_escalation_timer(ctx: NotificationsContext) -> TimerHandler:
    async def handle(timer: Timer) -> list[OutgoingEvent]:
        """A page failed somewhere: escalate if its clinician cannot be reached."""
        escalation = EscalatePage(str(timer.payload["alert_id"]), str(timer.payload["recipient_id"]))
        await escalate_page(escalation, ctx)
        return []

    return handle
