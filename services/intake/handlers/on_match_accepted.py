"""`match-accepted` → the client chose the therapist: they read the whole record from now on.

Any other therapist's relationship ends (a switch) or lapses (the other candidates).
"""

from __future__ import annotations

from services.intake.commands.follow_care import FollowCare, follow_care
from services.intake.context import IntakeContext
from shared.events.envelope import Envelope
from shared.events.models import MatchAccepted
from shared.messaging.subscriptions import Handler


def on_match_accepted(ctx: IntakeContext) -> Handler:
    async def handle(event: MatchAccepted, envelope: Envelope) -> None:
        """The accepted therapist is chosen; every other relationship ends or lapses."""
        await follow_care(FollowCare(event.client_id, event, envelope), ctx)

    return handle
