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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.notifications.commands.notify import Notify, notify
from services.notifications.context import NotificationsContext
from services.notifications.domain.audience import on_call_page
from services.notifications.domain.channels import EXTERNAL_CHANNELS
from services.notifications.domain.delivery import Origin, delivery_id, page_undeliverable
from services.notifications.store.alerts import alert_id, escalated_from, opened
from shared.events.envelope import Envelope
from shared.observability.logs import get_logger
from shared.storage import Document

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PageOnCall:
    """Page the on-call rota for the risk flag `cause` about `client_id`; `context` is what the
    page may say (`audience.risk_context`: the client's country, what flagged them)."""

    client_id: str
    context: Mapping[str, Any]
    cause: Envelope


async def page_on_call(command: PageOnCall, ctx: NotificationsContext) -> None:
    """Open the alert for this risk flag and page whoever it has reached so far."""
    rota = ctx.policy.on_call_rota
    if not rota:
        log.error("risk flagged but no on-call rota is configured", client_id=command.client_id)
        return
    cause = command.cause
    key = alert_id(cause.id)
    alert = await ctx.stores.alerts.upsert(
        key,
        opened(
            rota=rota,
            event_id=cause.id,
            event_type="risk-flagged",
            correlation_id=cause.correlation_id,
            context=dict(command.context),
        ),
        cause=cause,
    )
    if alert is not None:
        await _page_latest(ctx, key, alert, cause=cause)


@dataclass(frozen=True, slots=True)
class EscalatePage:
    """The page of `recipient_id` for alert `alert_id` may have reached nobody."""

    alert_id: str
    recipient_id: str


async def escalate_page(command: EscalatePage, ctx: NotificationsContext) -> None:
    """Page the next clinician when the page of `recipient_id` reached nobody."""
    key, recipient_id = command.alert_id, command.recipient_id
    alert = await ctx.stores.alerts.get(key)
    if alert is None or recipient_id not in alert["paged"]:
        return
    if alert["paged"][-1] == recipient_id:
        deliveries = [
            found
            for channel in EXTERNAL_CHANNELS
            if (
                found := await ctx.stores.deliveries.get(
                    delivery_id(alert["event_id"], recipient_id, channel)
                )
            )
        ]
        if not page_undeliverable(deliveries):
            return
        alert = await ctx.stores.alerts.update(key, escalated_from(recipient_id))
        if alert is None:
            return
        if alert["paged"][-1] == recipient_id:
            log.error("risk alert reached no on-call clinician on the whole rota", alert_id=key)
            return
        log.warning("page undeliverable; escalating", alert_id=key, next_recipient_id=alert["paged"][-1])
    # Whoever escalated, make sure the latest clinician is paged (claims keep it once).
    await _page_latest(ctx, key, alert, cause=None)


async def _page_latest(
    ctx: NotificationsContext, key: str, alert: Document, *, cause: Envelope | None
) -> None:
    pagee = alert["paged"][-1]
    origin = Origin(alert["event_id"], alert["event_type"], alert["correlation_id"])
    await notify(Notify((on_call_page(pagee, alert["context"], key),), origin, cause=cause), ctx)
    await escalate_page(EscalatePage(key, pagee), ctx)  # no channel outside the app: next at once
