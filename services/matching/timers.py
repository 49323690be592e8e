"""Matching's timer kinds: one, the expiry of an unanswered proposal.

`PROPOSAL_EXPIRY`: scheduled by `commands/propose_matches.py` for every proposal naming
somebody, at its `expires_at`, with id `proposal-expiry:<match_id>` (scheduling it again is
idempotent) and payload `{match_id}`; fired (once in effect, by one replica) by
`handlers/on_proposal_expiry_timer.py`, which runs `commands/expire_proposal.py`.
"""

from __future__ import annotations

PROPOSAL_EXPIRY = "proposal-expiry"


def proposal_expiry_id(match_id: str) -> str:
    return f"{PROPOSAL_EXPIRY}:{match_id}"
