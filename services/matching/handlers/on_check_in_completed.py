"""check-in-completed: the therapist's outcome records in the client's concerns.

See `commands/record_outcomes.py`.
"""

from __future__ import annotations

from services.matching.commands.record_outcomes import RecordOutcomes, record_outcomes
from services.matching.context import MatchingContext
from shared.events.envelope import Envelope
from shared.events.models import CheckInCompleted
from shared.messaging.subscriptions import Handler


def on_check_in_completed(ctx: MatchingContext) -> Handler:
    async def handle(event: CheckInCompleted, envelope: Envelope) -> None:
        """Updates the therapist's per-concern rates of reliable improvement and deterioration."""
        await record_outcomes(RecordOutcomes(event), ctx)

    return handle
