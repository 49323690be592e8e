"""The care relationship of one client with each therapist (DESIGN §2), folded from events.

    (none) ──match-proposed──▶ proposed ──match-accepted, or the client books──▶ chosen
                                  │        one of the therapist's slots             │
                                  │                                   introduction held
                                  ▼                                                 ▼
                              withdrawn ◀── a newer proposal without them,      in_care
                                            its expiry, a decline, another          │
                                            therapist chosen                        ▼
    chosen | in_care ──another therapist chosen (switch), a decline, the plan ──▶ ended
                       completed (an admin may do either)

What each state lets the therapist see of the client (`Access`):

- proposed, until the proposal expires: the referral summary only (concerns, risk band,
  format, language, availability windows), never history, diagnoses, answers or free text;
- chosen and in care: the whole record; only the therapist in care writes the plan;
- withdrawn, ended, or never related: nothing at all (answered as if the client did not
  exist); a former therapist keeps only their own sessions in their own calendar.

Intake, matching and scheduling each keep the relationships of a client in that client's
own document and fold the very same events with this module, so they answer the same
question the same way without reading each other's data. The events come on different
topics, which Kafka does not order against each other: each relationship keeps the time
of the event that last changed it, and an older event changes nothing (an acceptance
delivered after the decline that followed it cannot grant access again).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from shared.clock import stored_instant
from shared.events.common import PlanStatus
from shared.events.models import (
    MatchAccepted,
    MatchDeclined,
    MatchProposed,
    SessionAttendanceRecorded,
    SessionBooked,
    TreatmentPlanUpdated,
)

MAX_KEPT = 50
"""Relationships kept per client; the oldest withdrawn or ended ones go first."""

RELATIONSHIP_EVENTS: tuple[type[BaseModel], ...] = (
    MatchProposed,
    MatchAccepted,
    MatchDeclined,
    SessionBooked,
    SessionAttendanceRecorded,
    TreatmentPlanUpdated,
)
"""The events that move a relationship; a service folds those it consumes or produces."""


class CareState(StrEnum):
    proposed = "proposed"
    chosen = "chosen"
    in_care = "in_care"
    ended = "ended"
    withdrawn = "withdrawn"


class Access(StrEnum):
    """What a therapist may see of a client's record."""

    none = "none"
    referral = "referral"
    record = "record"


@dataclass(frozen=True, slots=True)
class Relationship:
    therapist_id: str
    state: CareState
    changed_at: datetime
    match_id: str | None = None
    until: datetime | None = None
    """When a proposal lapses: referral access ends then, whatever else arrives."""
    reason: str | None = None

    def state_at(self, now: datetime) -> CareState:
        if self.state is CareState.proposed and self.until is not None and now >= self.until:
            return CareState.withdrawn
        return self.state

    def access_at(self, now: datetime) -> Access:
        state = self.state_at(now)
        if state is CareState.proposed:
            return Access.referral
        if state in (CareState.chosen, CareState.in_care):
            return Access.record
        return Access.none

    def to_document(self) -> dict[str, Any]:
        return {
            "therapist_id": self.therapist_id,
            "state": self.state.value,
            "changed_at": self.changed_at,
            "match_id": self.match_id,
            "until": self.until,
            "reason": self.reason,
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Relationship:
        return cls(
            therapist_id=str(document["therapist_id"]),
            state=CareState(document["state"]),
            changed_at=document["changed_at"],
            match_id=document.get("match_id"),
            until=document.get("until"),
            reason=document.get("reason"),
        )


ACTIVE = frozenset({CareState.chosen, CareState.in_care})


@dataclass(frozen=True, slots=True)
class CareRelationships:
    """A client's relationships with therapists: a value, changed only by `apply`."""

    relationships: tuple[Relationship, ...] = ()

    # ------------------------------------------------------------------ questions

    def of(self, therapist_id: str) -> Relationship | None:
        return next((r for r in self.relationships if r.therapist_id == therapist_id), None)

    def state_of(self, therapist_id: str, now: datetime) -> CareState | None:
        found = self.of(therapist_id)
        return None if found is None else found.state_at(now)

    def access(self, therapist_id: str, now: datetime) -> Access:
        found = self.of(therapist_id)
        return Access.none if found is None else found.access_at(now)

    def may_write_plan(self, therapist_id: str) -> bool:
        """Only the therapist the client is in care with writes the plan."""
        found = self.of(therapist_id)
        return found is not None and found.state is CareState.in_care

    @property
    def in_care_with(self) -> str | None:
        return next((r.therapist_id for r in self.relationships if r.state is CareState.in_care), None)

    @property
    def chosen(self) -> str | None:
        """The therapist the client chose or is in care with (one at a time), if any."""
        return next((r.therapist_id for r in self.relationships if r.state in ACTIVE), None)

    def proposed_at(self, now: datetime) -> list[str]:
        return [r.therapist_id for r in self.relationships if r.state_at(now) is CareState.proposed]

    # ------------------------------------------------------------------ the fold

    def apply(self, event: BaseModel, at: datetime) -> CareRelationships:
        """The relationships after `event`, which happened at `at` (its `ce_time`)."""
        at = stored_instant(at)
        if isinstance(event, MatchProposed):
            return self._proposed(event, at)
        if isinstance(event, MatchAccepted):
            return self._focus(event.therapist_id, CareState.chosen, at, match_id=event.match_id)
        if isinstance(event, MatchDeclined):
            return self._declined(event, at)
        if isinstance(event, SessionBooked):
            if event.booked_by == "client" and event.kind == "introduction":
                return self._focus(event.therapist_id, CareState.chosen, at, match_id=event.match_id)
            return self
        if isinstance(event, SessionAttendanceRecorded):
            if event.kind == "introduction" and event.attendance == "held":
                return self._focus(event.therapist_id, CareState.in_care, at, match_id=event.match_id)
            return self
        if isinstance(event, TreatmentPlanUpdated):
            if event.status is PlanStatus.completed:
                return self._ending(
                    [event.therapist_id], at, reason="plan_completed", states=ACTIVE | {CareState.proposed}
                )
            return self
        return self

    def _proposed(self, event: MatchProposed, at: datetime) -> CareRelationships:
        """The candidates are proposed until the proposal expires; earlier proposals lapse."""
        candidates = {c.therapist_id for c in event.candidates}
        if any(r.state in ACTIVE and r.changed_at > at for r in self.relationships):
            candidates = set()  # the client chose after this proposal: it proposes nobody now
        changed = [
            replace(r, state=CareState.withdrawn, changed_at=at, until=None, reason="superseded")
            for r in self.relationships
            if r.state is CareState.proposed and r.therapist_id not in candidates and r.changed_at <= at
        ]
        for therapist_id in candidates:
            current = self.of(therapist_id)
            if current is not None and (current.state in ACTIVE or current.changed_at > at):
                continue  # already chosen, or changed after this proposal
            changed.append(
                Relationship(
                    therapist_id, CareState.proposed, at, match_id=event.match_id, until=event.expires_at
                )
            )
        return self._with(changed)

    def _focus(
        self, therapist_id: str, state: CareState, at: datetime, *, match_id: str | None
    ) -> CareRelationships:
        """`therapist_id` becomes the one (chosen or in care); any other ends or lapses."""
        current = self.of(therapist_id)
        if current is not None and current.changed_at > at:
            return self  # a later change of this relationship stands
        if current is not None and current.state is CareState.in_care and state is CareState.chosen:
            return self  # already further along
        focused = Relationship(
            therapist_id,
            state,
            at,
            match_id=match_id or (current.match_id if current else None),
        )
        others = [r.therapist_id for r in self.relationships if r.therapist_id != therapist_id]
        return self._with([focused])._ending(others, at, reason="another_therapist_chosen")

    def _declined(self, event: MatchDeclined, at: datetime) -> CareRelationships:
        if event.therapist_id is not None:
            named = [event.therapist_id]
        else:
            named = [r.therapist_id for r in self.relationships if r.match_id == event.match_id]
        return self._ending(named, at, reason=event.reason, states=ACTIVE | {CareState.proposed})

    def _ending(
        self,
        therapist_ids: Iterable[str],
        at: datetime,
        *,
        reason: str,
        states: frozenset[CareState] = ACTIVE | {CareState.proposed},
    ) -> CareRelationships:
        """Active relationships among `therapist_ids` end; proposals among them are withdrawn."""
        wanted = set(therapist_ids)
        changed = [
            replace(
                r,
                state=CareState.ended if r.state in ACTIVE else CareState.withdrawn,
                changed_at=at,
                until=None,
                reason=reason,
            )
            for r in self.relationships
            if r.therapist_id in wanted and r.state in states and r.changed_at <= at
        ]
        return self._with(changed)

    def _with(self, changed: Iterable[Relationship]) -> CareRelationships:
        by_id = {r.therapist_id: r for r in self.relationships}
        by_id.update({r.therapist_id: r for r in changed})
        kept = sorted(by_id.values(), key=lambda r: r.changed_at)
        while len(kept) > MAX_KEPT:
            stale = next((r for r in kept if r.state in (CareState.ended, CareState.withdrawn)), kept[0])
            kept.remove(stale)
        return CareRelationships(tuple(kept))

    # ------------------------------------------------------------------ document form

    def to_document(self) -> list[dict[str, Any]]:
        return [r.to_document() for r in self.relationships]

    @classmethod
    def from_document(cls, documents: Iterable[Mapping[str, Any]] | None) -> CareRelationships:
        return cls(tuple(Relationship.from_document(d) for d in documents or ()))
