"""`match-proposed` → the candidates are proposed to the client: each may read the referral summary.

Until the proposal expires, and never more than the summary (concerns, risk band,
format, languages, windows); a newer proposal withdraws candidates it no longer names.
"""

from __future__ import annotations

from services.intake.commands.follow_care import FollowCare, follow_care
from services.intake.context import IntakeContext
from shared.events.envelope import Envelope
from shared.events.models import MatchProposed
from shared.messaging.subscriptions import Handler


def on_match_proposed(ctx: IntakeContext) -> Handler:
    async def handle(event: MatchProposed, envelope: Envelope) -> None:
        """Propose the candidates; withdraw earlier proposals' others."""
        await follow_care(FollowCare(event.client_id, event, envelope), ctx)

    return handle
