"""`match-accepted` → the client chose the therapist: they read the whole record from now on.

Any other therapist's relationship ends (a switch) or lapses (the other candidates).
"""

from __future__ import annotations

from services.intake.commands.follow_care import follow_care
from services.intake.store import IntakeStores
from shared.events.envelope import Envelope
from shared.events.models import MatchAccepted
from shared.messaging.subscriptions import Handler


def on_match_accepted(stores: IntakeStores) -> Handler:
    async def handle(event: MatchAccepted, envelope: Envelope) -> None:
        """The accepted therapist is chosen; every other relationship ends or lapses."""
        await follow_care(stores, event.client_id, event, envelope)

    return handle
