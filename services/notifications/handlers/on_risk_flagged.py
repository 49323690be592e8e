"""`risk-flagged` → critical: crisis resources to the client and pages to the on-call rota, at once.

Bypasses opt-outs, quiet hours and delays. The client gets the crisis resources on every
channel they have; a treating therapist named by the event is alerted; the on-call rota
is paged with escalation (`commands/page_on_call.py`).
"""

from __future__ import annotations

import asyncio

from services.notifications.commands.dispatch import Dispatch
from services.notifications.commands.notify import announce
from services.notifications.commands.page_on_call import page_on_call
from services.notifications.domain import audience
from shared.events.envelope import Envelope
from shared.events.models import RiskFlagged
from shared.messaging.subscriptions import Handler


def on_risk_flagged(dispatch: Dispatch) -> Handler:
    async def handle(event: RiskFlagged, envelope: Envelope) -> None:
        """Send the client crisis resources and page the on-call clinician, at once."""
        outcomes = await asyncio.gather(
            announce(dispatch, audience.risk_flagged(event), event, envelope),
            page_on_call(dispatch, event, envelope),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome  # retried by the pipeline: claimed deliveries are not sent twice

    return handle
