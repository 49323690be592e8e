"""What matching's commands, handlers, timers and routes work with: stores, read model, timers, clock, policy.

Built once in `app.py` from the runtime's stores (`matching_context`); unit tests build it
from the in-memory fakes of `tests/support/fakes.py`. Typed with the ports of
`shared/ports.py`, so nothing here knows whether it talks to MongoDB, nor about HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from services.matching.domain.scoring import DEFAULT_WEIGHTS
from services.matching.store.read_model import Directory
from shared.ports import Clock, Documents, Timers

SERVICE = "matching"
"""The service's name: the source of its events and of its commands' causes."""


@dataclass(frozen=True, slots=True)
class Policy:
    top_k: int = 3
    directory_freshness_seconds: float = 0.0
    proposal_ttl: timedelta = timedelta(hours=24)
    max_proposals_per_intake: int = 10
    waitlist_rematch_per_trigger: int = 20
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    source: str = SERVICE


@dataclass(frozen=True, slots=True)
class MatchingContext:
    therapists: Documents
    proposals: Documents
    clients: Documents
    outcomes: Documents
    waitlist: Documents
    directory: Directory
    """This replica's in-process directory; therapists are written through it."""
    timers: Timers
    clock: Clock
    policy: Policy = field(default_factory=Policy)
