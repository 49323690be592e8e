"""Page the on-call rota for a risk flag, escalating until a clinician is reached.

The page names the client, whether the intake or a check-in flagged them, and the
client's country (`risk_context`: `unknown` when the event names no jurisdiction), so the
clinician knows which emergency services apply. The first clinician on the rota is paged
on every channel they have, at once. When a
page cannot reach them (they have no channel outside the app, or every one of those
failed at least once with nothing delivered), the next clinician on the rota is paged,
and so on. The alert document (`risk:{event_id}`) records who was paged in order and is
changed under its lease, so concurrent failures escalate once; pages are deliveries like
any other, claimed by a unique insert, so repeating a step never pages twice.
"""

from __future__ import annotations

from services.notifications.commands.dispatch import Dispatch
from services.notifications.commands.notify import notify
from services.notifications.domain.audience import on_call_page, risk_context
from services.notifications.domain.delivery import Origin, delivery_id, page_undeliverable
from services.notifications.domain.preferences import EXTERNAL_CHANNELS
from services.notifications.store.alerts import alert_id, escalated_from, opened
from shared.events.envelope import Envelope, OutgoingEvent
from shared.events.models import RiskFlagged
from shared.observability.logs import get_logger
from shared.storage import Document
from shared.storage.timers import Timer, TimerHandler

log = get_logger(__name__)


async def page_on_call(dispatch: Dispatch, event: RiskFlagged, envelope: Envelope) -> None:
    """Open the alert for this risk flag and page whoever it has reached so far."""
    rota = dispatch.policy.on_call_rota
    if not rota:
        log.error("risk flagged but no on-call rota is configured", client_id=event.client_id)
        return
    key = alert_id(envelope.id)
    alert = await dispatch.stores.alerts.upsert(
        key,
        opened(
            rota=rota,
            event_id=envelope.id,
            event_type="risk-flagged",
            correlation_id=envelope.correlation_id,
            context=risk_context(event),
        ),
        cause=envelope,
    )
    if alert is not None:
        await _page_latest(dispatch, key, alert, cause=envelope)


async def escalate_if_undeliverable(dispatch: Dispatch, key: str, recipient_id: str) -> None:
    """Page the next clinician when the page of `recipient_id` reached nobody."""
    alert = await dispatch.stores.alerts.get(key)
    if alert is None or recipient_id not in alert["paged"]:
        return
    if alert["paged"][-1] == recipient_id:
        deliveries = [
            found
            for channel in EXTERNAL_CHANNELS
            if (
                found := await dispatch.stores.deliveries.get(
                    delivery_id(alert["event_id"], recipient_id, channel)
                )
            )
        ]
        if not page_undeliverable(deliveries):
            return
        alert = await dispatch.stores.alerts.update(key, escalated_from(recipient_id))
        if alert is None:
            return
        if alert["paged"][-1] == recipient_id:
            log.error("risk alert reached no on-call clinician on the whole rota", alert_id=key)
            return
        log.warning("page undeliverable; escalating", alert_id=key, next_recipient_id=alert["paged"][-1])
    # Whoever escalated, make sure the latest clinician is paged (claims keep it once).
    await _page_latest(dispatch, key, alert, cause=None)


def fire_escalation_check(dispatch: Dispatch) -> TimerHandler:
    async def handle(timer: Timer) -> list[OutgoingEvent]:
        """A page failed somewhere: escalate if its clinician cannot be reached."""
        await escalate_if_undeliverable(
            dispatch, str(timer.payload["alert_id"]), str(timer.payload["recipient_id"])
        )
        return []

    return handle


async def _page_latest(dispatch: Dispatch, key: str, alert: Document, *, cause: Envelope | None) -> None:
    pagee = alert["paged"][-1]
    origin = Origin(alert["event_id"], alert["event_type"], alert["correlation_id"])
    await notify(dispatch, [on_call_page(pagee, alert["context"], key)], origin, cause=cause)
    await escalate_if_undeliverable(dispatch, key, pagee)  # no channel outside the app: next at once
