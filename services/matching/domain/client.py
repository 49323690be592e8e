"""What matching keeps per client, and the rules that change it: intake, exclusions, proposals, wait.

- The latest intake is kept, so a decline, a switch, a failed booking or an expiry can be
  re-proposed without asking intake again; an older intake delivered late changes nothing.
  A new intake ends the exclusions that were only for the last one (`no_slot`) and the
  client's wait (its own proposal decides whether they wait again).
- Therapists the client declined or switched away from are never proposed to them again.
- Every proposal is linked to the client; the newest one is current. While the current
  proposal is empty the client waits on the waitlist; one naming somebody ends the wait.
- The care relationships (`shared.care.relationship`) fold what matching consumes and
  produces, each event at its own time; every read of a client's matches is decided on them.

Each move returns the client as it is after it (the same value when nothing changes).
Pure: `store/clients.py` maps documents to and from these values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from pydantic import BaseModel

from services.matching.domain.needs import ClientNeeds
from services.matching.domain.waitlist import Waiting
from shared.care.relationship import CareRelationships
from shared.events.models import IntakeCompleted, MatchProposed

DECLINED = "declined"
SWITCHED = "switched"
NO_SLOT = "no_slot"
TEMPORARY = frozenset({NO_SLOT})
"""Exclusions that last for one intake only."""


@dataclass(frozen=True, slots=True)
class Exclusion:
    therapist_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Wait:
    """The client waits on this empty proposal, since it was made."""

    match_id: str
    since: datetime
    sequence: int = 1


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    intake: IntakeCompleted | None = None
    correlation_id: str | None = None
    excluded: tuple[Exclusion, ...] = ()
    match_ids: tuple[str, ...] = ()
    current_match_id: str | None = None
    replaced_match_id: str | None = None
    """The proposal the latest intake's replaced (its holds are released)."""
    therapist_id: str | None = None
    """In care with, once a first session is booked."""
    care: CareRelationships = field(default_factory=CareRelationships)
    wait: Wait | None = None

    # ------------------------------------------------------------------ questions

    @property
    def excluded_ids(self) -> frozenset[str]:
        return frozenset(entry.therapist_id for entry in self.excluded)

    @property
    def waiting(self) -> Waiting | None:
        """The client's waitlist entry, from their wait and their intake; None when not waiting."""
        if self.wait is None or self.intake is None:
            return None
        needs = ClientNeeds.from_intake(self.intake)
        return Waiting(
            client_id=self.client_id,
            match_id=self.wait.match_id,
            since=self.wait.since,
            jurisdiction=needs.jurisdiction,
            languages=needs.languages,
            high_acuity=needs.needs_high_acuity,
        )

    def knows_newer_intake_than(self, intake: IntakeCompleted) -> bool:
        held = self.intake
        return (
            held is not None
            and held.intake_id != intake.intake_id
            and held.submitted_at > intake.submitted_at
        )

    def is_new_intake(self, intake: IntakeCompleted) -> bool:
        return self.intake is None or self.intake.intake_id != intake.intake_id

    def replaced_by(self, match_id: str) -> str | None:
        """The proposal that the intake's proposal `match_id` replaces (once recorded, the one it did)."""
        return self.current_match_id if self.current_match_id != match_id else self.replaced_match_id

    # ------------------------------------------------------------------ moves

    def record_intake(self, intake: IntakeCompleted, correlation_id: str, *, match_id: str) -> Client:
        """Keep the client's latest intake and make `match_id` (its proposal) their current one."""
        if not self.is_new_intake(intake) or self.knows_newer_intake_than(intake):
            return self
        return replace(
            self,
            intake=intake,
            correlation_id=correlation_id,
            excluded=tuple(entry for entry in self.excluded if entry.reason not in TEMPORARY),
            match_ids=tuple(dict.fromkeys((*self.match_ids, match_id))),
            current_match_id=match_id,
            replaced_match_id=self.current_match_id,
            wait=None,
        )

    def exclude(self, therapist_ids: Iterable[str], reason: str) -> Client:
        held = self.excluded_ids
        added = tuple(Exclusion(t, reason) for t in dict.fromkeys(therapist_ids) if t not in held)
        return replace(self, excluded=(*self.excluded, *added)) if added else self

    def settle(self, proposed: MatchProposed, made_at: datetime, sequence: int) -> Client:
        """What a stored proposal means for the client: linked, folded, and their wait.

        The proposal joins the client's list and becomes current (unless linked before: a
        newer one may be current by now); its `match-proposed` is folded into the
        relationships at the time it was made; and while it is the current one, the client
        waits on it when it is empty and waits no more when it names somebody.
        """
        match_id = proposed.match_id
        match_ids, current = self.match_ids, self.current_match_id
        if match_id not in match_ids:
            match_ids, current = (*match_ids, match_id), match_id
        wait = self.wait
        if current == match_id:
            if not proposed.candidates and (wait is None or wait.match_id != match_id):
                wait = Wait(match_id, made_at, sequence)
            elif proposed.candidates:
                wait = None
        care = self.care.apply(proposed, made_at)
        return replace(self, match_ids=match_ids, current_match_id=current, care=care, wait=wait)

    def fold(self, events: Sequence[tuple[BaseModel, datetime]]) -> Client:
        """Fold events that move care relationships, each at its own time (`ce_time`)."""
        care = self.care
        for event, at in events:
            care = care.apply(event, at)
        return self if care == self.care else replace(self, care=care)

    def leave_waitlist(self) -> Client:
        """The client waits no more (matched otherwise, declined, booked)."""
        return self if self.wait is None else replace(self, wait=None)

    def in_care_with(self, therapist_id: str | None, *, only_if: str | None = None) -> Client:
        """Set (or clear, with None) the therapist the client is in care with; `only_if` clears
        only while the client is still with that therapist."""
        if only_if is not None and self.therapist_id != only_if:
            return self
        return self if self.therapist_id == therapist_id else replace(self, therapist_id=therapist_id)
