"""What scheduling's commands, handlers, timers and routes work with: its stores, the policy, the clock.

Built once in `app.py` from the runtime's collections; unit tests build it from the in-memory
fakes of `tests/support/fakes.py`. Typed with the ports of `shared/ports.py`, so nothing here
knows whether it talks to MongoDB, and nothing here knows FastAPI: routes reach it through
`api/dependencies.Context`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.scheduling.domain.policy import Policy
from services.scheduling.store import SchedulingStores
from services.scheduling.store.claims import ClaimLedger
from shared.clock import stored_instant
from shared.ports import Clock


@dataclass(frozen=True)
class SchedulingContext:
    stores: SchedulingStores
    policy: Policy
    clock: Clock
    ledger: ClaimLedger = field(init=False)
    """The slot claims (`store/claims.py`), with the policy's grace for a crashed booking's."""

    def __post_init__(self) -> None:
        ledger = ClaimLedger(
            self.stores.slot_claims, self.stores.clients, orphan_grace=self.policy.claim_orphan_grace
        )
        object.__setattr__(self, "ledger", ledger)

    def now(self) -> datetime:
        """Now as MongoDB keeps it, so stored and computed values compare equal."""
        return stored_instant(self.clock())
