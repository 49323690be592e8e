"""A therapist's capacity: the clients in their caseload and the holds open proposals place.

Everything capacity depends on lives in one therapist document, so its lease serialises
every writer (`store/therapists.py`): two replicas placing holds on one therapist take
turns, and the second sees the first's hold before deciding. That is what makes capacity
impossible to oversubscribe. The rules here are pure (time passed in):

- A hold sets one client's worth of capacity aside for a proposal, only if the therapist
  still passes every hard constraint as they are now (the ranking ran on a copy another
  replica may have outdated); a proposal holds a therapist once.
- A hold lapses at its `expires_at`; every change drops the lapsed ones.
- The accepted therapist's hold is extended until the booking arrives.
- A client's first session puts them in the caseload (their hold becomes the place); they
  leave it when they switch, their first session is cancelled, or care ends.

Each move returns the new capacity, or None when it changes nothing, so a redelivered
event or a retried request changes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from services.matching.domain.filters import ProposalRound, first_violation
from services.matching.domain.needs import ClientNeeds
from services.matching.domain.therapist import Hold, Therapist


@dataclass(frozen=True, slots=True)
class InCare:
    """A client in the therapist's caseload, since their first session was booked."""

    client_id: str
    match_id: str | None
    since: datetime


@dataclass(frozen=True, slots=True)
class Capacity:
    caseload: tuple[InCare, ...] = ()
    holds: tuple[Hold, ...] = ()

    def holds_for(self, match_id: str) -> bool:
        return any(hold.match_id == match_id for hold in self.holds)

    def live_holds(self, now: datetime) -> int:
        return sum(1 for hold in self.holds if hold.live_at(now))

    def free(self, capacity: int, now: datetime) -> int:
        """Places left of `capacity` once clients in care and live holds are counted."""
        return max(0, capacity - len(self.caseload) - self.live_holds(now))

    def place_hold(
        self, hold: Hold, therapist: Therapist | None, needs: ClientNeeds, moment: ProposalRound
    ) -> Capacity | None:
        """Hold for `hold.match_id` if `therapist` (as stored now) still qualifies; a hold this
        proposal placed already is kept as it is (a redelivery)."""
        if self.holds_for(hold.match_id):
            return None
        if therapist is None or first_violation(therapist, needs, moment) is not None:
            return None
        return replace(self, holds=(*self._live(moment.now), hold))

    def release_hold(self, match_id: str, now: datetime) -> Capacity | None:
        """Give back what `match_id` held (and drop the holds that lapsed meanwhile)."""
        kept = tuple(hold for hold in self._live(now) if hold.match_id != match_id)
        if len(kept) == len(self.holds):
            return None
        return replace(self, holds=kept)

    def extend_hold(self, match_id: str, expires_at: datetime, now: datetime) -> Capacity | None:
        """Keep the accepted therapist's hold until the booking arrives (or `expires_at`)."""
        holds = self._live(now)
        for position, hold in enumerate(holds):
            if hold.match_id == match_id and hold.expires_at < expires_at:
                extended = replace(hold, expires_at=expires_at)
                return replace(self, holds=(*holds[:position], extended, *holds[position + 1 :]))
        return None

    def start_care(self, client_id: str, match_id: str | None, now: datetime) -> Capacity | None:
        """The client's first session is booked: they join the caseload, and the hold becomes it."""
        kept = tuple(hold for hold in self._live(now) if hold.match_id != match_id)
        in_care = any(entry.client_id == client_id for entry in self.caseload)
        if in_care and len(kept) == len(self.holds):
            return None
        caseload = self.caseload if in_care else (*self.caseload, InCare(client_id, match_id, now))
        return Capacity(caseload=caseload, holds=kept)

    def end_care(self, client_id: str) -> Capacity | None:
        """The client left this therapist (switched, first session cancelled, care completed)."""
        kept = tuple(entry for entry in self.caseload if entry.client_id != client_id)
        if len(kept) == len(self.caseload):
            return None
        return replace(self, caseload=kept)

    def _live(self, now: datetime) -> tuple[Hold, ...]:
        return tuple(hold for hold in self.holds if hold.live_at(now))
