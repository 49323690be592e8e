"""`check-in-due` → a pending check-in for the client to answer, and the timer that expires it."""

from __future__ import annotations

from services.intake.commands.open_check_in import OpenCheckIn, open_check_in
from services.intake.context import IntakeContext
from shared.events.envelope import Envelope
from shared.events.models import CheckInDue
from shared.messaging.subscriptions import Handler


def on_check_in_due(ctx: IntakeContext) -> Handler:
    async def handle(event: CheckInDue, envelope: Envelope) -> None:
        """Create a pending check-in for the client (once per check-in id) and its expiry."""
        # A refusal can never succeed on redelivery: the pipeline dead-letters it with its reason.
        await open_check_in(OpenCheckIn(due=event, cause=envelope, now=ctx.clock()), ctx)

    return handle
