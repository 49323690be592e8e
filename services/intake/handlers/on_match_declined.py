"""`match-declined` → the declined therapist (or every candidate of the proposal) loses access.

A decline of a chosen or treating therapist ends their care; a declined proposal is
withdrawn. Either way they get 404 on the client's record from now on.
"""

from __future__ import annotations

from services.intake.commands.follow_care import FollowCare, follow_care
from services.intake.context import IntakeContext
from shared.events.envelope import Envelope
from shared.events.models import MatchDeclined
from shared.messaging.subscriptions import Handler


def on_match_declined(ctx: IntakeContext) -> Handler:
    async def handle(event: MatchDeclined, envelope: Envelope) -> None:
        """End or withdraw the declined relationships."""
        await follow_care(FollowCare(event.client_id, event, envelope), ctx)

    return handle
