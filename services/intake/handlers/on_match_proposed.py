"""`match-proposed` → the candidates are proposed to the client: each may read the referral summary.

Until the proposal expires, and never more than the summary (concerns, risk band,
format, languages, windows); a newer proposal withdraws candidates it no longer names.
"""

from __future__ import annotations

from services.intake.commands.follow_care import follow_care
from services.intake.store import IntakeStores
from shared.events.envelope import Envelope
from shared.events.models import MatchProposed
from shared.messaging.subscriptions import Handler


def on_match_proposed(stores: IntakeStores) -> Handler:
    async def handle(event: MatchProposed, envelope: Envelope) -> None:
        """Propose the candidates; withdraw earlier proposals' others."""
        await follow_care(stores, event.client_id, event, envelope)

    return handle
