"""Answer a risk flag at once: crisis resources to the client, pages to the on-call rota.

Critical: it bypasses opt-outs, quiet hours and delays. The client gets the crisis
resources of their country, in their language (the event's, else the one they chose
here), on every channel they have; a treating therapist named by the event is alerted;
the on-call rota is paged with escalation and told the client's country
(`page_on_call.py`). Both go concurrently, so neither waits on the other's providers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from services.notifications.commands.notify import Notify, notify
from services.notifications.commands.page_on_call import PageOnCall, page_on_call
from services.notifications.context import NotificationsContext
from services.notifications.domain import audience
from services.notifications.store.recipients import locale_of
from shared.events.envelope import Envelope
from shared.events.models import RiskFlagged


@dataclass(frozen=True, slots=True)
class AnswerRiskFlag:
    flag: RiskFlagged
    cause: Envelope


async def answer_risk_flag(command: AnswerRiskFlag, ctx: NotificationsContext) -> None:
    """Send the client crisis resources and page the on-call clinician, at once."""
    flag, cause = command.flag, command.cause
    outcomes = await asyncio.gather(
        _send_crisis_resources(command, ctx),
        page_on_call(PageOnCall(flag.client_id, audience.risk_context(flag), cause), ctx),
        return_exceptions=True,
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome  # retried by the pipeline: claimed deliveries are not sent twice


async def _send_crisis_resources(command: AnswerRiskFlag, ctx: NotificationsContext) -> None:
    client_id = command.flag.client_id
    client = await ctx.stores.recipients.get(client_id) or {}
    notices = audience.risk_flagged(command.flag, recipient_language=locale_of(client))
    read = {client_id: client}  # the notices are planned from it: not read twice
    await notify(Notify.answering(notices, command.flag, command.cause, recipients=read), ctx)
