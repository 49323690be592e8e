"""A new proposal from the client's latest intake, after a decline, a switch, a failed booking or an expiry.

Without the therapists excluded for the client (declined, switched away from, no slot).
Nothing when there is no intake to propose from, or the client had
`max_proposals_per_intake` already: an operator looks at such a client, and a loop with
scheduling (fail, propose, fail...) stops here.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.matching.commands.propose_matches import ProposeMatches, propose_matches
from services.matching.context import MatchingContext
from services.matching.store.clients import client_of
from shared.events.envelope import Envelope
from shared.observability.logs import get_logger
from shared.storage import Document

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ProposeAgain:
    client_id: str
    match_id: str
    cause: Envelope
    origin: str
    predecessor: str | None
    sequence: int


async def propose_again(command: ProposeAgain, ctx: MatchingContext) -> Document | None:
    """The new proposal (None when none could be made)."""
    client = client_of(await ctx.clients.get(command.client_id), command.client_id)
    if client.intake is None:
        log.warning("no intake to propose from", client_id=command.client_id, predecessor=command.predecessor)
        return None
    if command.sequence > ctx.policy.max_proposals_per_intake:
        log.error(
            "operator alert: proposals per intake exhausted",
            alert="matching_proposals_exhausted",
            client_id=command.client_id,
            match_id=command.predecessor,
            proposals=command.sequence - 1,
        )
        return None
    return await propose_matches(
        ProposeMatches(
            command.client_id,
            client.intake,
            command.match_id,
            command.cause,
            excluded=client.excluded_ids,
            origin=command.origin,
            predecessor=command.predecessor,
            sequence=command.sequence,
        ),
        ctx,
    )
