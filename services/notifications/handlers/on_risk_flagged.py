"""`risk-flagged` → critical: crisis resources to the client and pages to the on-call rota, at once.

Bypasses opt-outs, quiet hours and delays (`commands/answer_risk_flag.py`).
"""

from __future__ import annotations

from services.notifications.commands.answer_risk_flag import AnswerRiskFlag, answer_risk_flag
from services.notifications.context import NotificationsContext
from shared.events.envelope import Envelope
from shared.events.models import RiskFlagged
from shared.messaging.subscriptions import Handler


def on_risk_flagged(ctx: NotificationsContext) -> Handler:
    async def handle(event: RiskFlagged, envelope: Envelope) -> None:
        """Send the client crisis resources and page the on-call clinician, at once."""
        await answer_risk_flag(AnswerRiskFlag(event, envelope), ctx)

    return handle
