"""What every command runs against: the stores (ports), the policy and the clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.scheduling.domain.policy import Policy
from services.scheduling.store import SchedulingStores
from services.scheduling.store.claims import ClaimLedger
from shared.ports import Clock

SOURCE = "scheduling"


@dataclass(frozen=True)
class Scheduling:
    stores: SchedulingStores
    policy: Policy
    clock: Clock
    ledger: ClaimLedger = field(init=False)

    def __post_init__(self) -> None:
        ledger = ClaimLedger(
            self.stores.slot_claims, self.stores.clients, orphan_grace=self.policy.claim_orphan_grace
        )
        object.__setattr__(self, "ledger", ledger)

    def now(self) -> datetime:
        """Now, to the millisecond: what MongoDB keeps, so stored and computed values compare equal."""
        moment = self.clock()
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
