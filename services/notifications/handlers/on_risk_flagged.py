"""`risk-flagged` → critical: crisis resources to the client and pages to the on-call rota, at once.

Bypasses opt-outs, quiet hours and delays. The client gets the crisis resources of their
country, in their language (the event's, else the one they chose here), on every channel
they have; a treating therapist named by the event is alerted; the on-call rota is paged
with escalation and told the client's country (`commands/page_on_call.py`).
"""

from __future__ import annotations

import asyncio

from services.notifications.commands.dispatch import Dispatch
from services.notifications.commands.notify import announce
from services.notifications.commands.page_on_call import page_on_call
from services.notifications.domain import audience
from services.notifications.store.recipients import locale_of
from shared.events.envelope import Envelope
from shared.events.models import RiskFlagged
from shared.messaging.subscriptions import Handler


def on_risk_flagged(dispatch: Dispatch) -> Handler:
    async def handle(event: RiskFlagged, envelope: Envelope) -> None:
        """Send the client crisis resources and page the on-call clinician, at once."""

        async def crisis_resources() -> None:
            client = await dispatch.stores.recipients.get(event.client_id)
            notices = audience.risk_flagged(event, recipient_language=locale_of(client))
            await announce(dispatch, notices, event, envelope)

        outcomes = await asyncio.gather(
            crisis_resources(),
            page_on_call(dispatch, event, envelope),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome  # retried by the pipeline: claimed deliveries are not sent twice

    return handle
