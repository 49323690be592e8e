"""intake-completed: keep the client's intake and propose therapists (`commands/propose_for_intake.py`)."""

from __future__ import annotations

from services.matching.commands.propose_for_intake import ProposeForIntake, propose_for_intake
from services.matching.context import MatchingContext
from shared.events.envelope import Envelope
from shared.events.models import IntakeCompleted
from shared.messaging.subscriptions import Handler


def on_intake_completed(ctx: MatchingContext) -> Handler:
    async def handle(event: IntakeCompleted, envelope: Envelope) -> None:
        """Proposes the best-fitting therapists for the client's intake (match-proposed)."""
        await propose_for_intake(ProposeForIntake(event, envelope), ctx)

    return handle
