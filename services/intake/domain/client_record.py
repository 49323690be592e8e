"""The client's record: the index of everything kept for one client, and how it may change.

It holds ids and the client's care relationships, never clinical content: the intakes
and check-ins of the client, the latest treatment plan version and when the client
acknowledged each version, and the care relationship with each therapist
(`shared.care.relationship`), which every access decision reads, and the break-glass
grants of on-call clinicians (`domain.break_glass`), which reads honour until they expire.

Every change is idempotent: adding an id twice keeps one, folding an event twice changes
nothing, a plan version older than the one known is not taken back, and the first
acknowledgement of a version stands. A change that changes nothing returns an equal
record, so a redelivered event or a retried request writes nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from shared.care.access import BreakGlass
from shared.care.relationship import CareRelationships


@dataclass(frozen=True, slots=True)
class BreakGlassGrant:
    """A break-glass grant as the record keeps it: the access, its reason code, the sealed reason."""

    access: BreakGlass
    reason_code: str
    sealed_reason: Mapping[str, Any] | None = None
    """The free-text reason as the field cipher sealed it (opaque here)."""


@dataclass(frozen=True, slots=True)
class ClientRecord:
    client_id: str
    intake_ids: tuple[str, ...] = ()
    """Oldest first; the newest submitted one is the baseline and journey of the client's care."""
    check_in_ids: tuple[str, ...] = ()
    care: CareRelationships = field(default_factory=CareRelationships)
    plan_version: int = 0
    """The latest treatment plan version known (0: no plan yet)."""
    acknowledgements: Mapping[int, datetime] = field(default_factory=lambda: MappingProxyType({}))
    """Plan version → when the client first acknowledged it."""
    break_glass: tuple[BreakGlassGrant, ...] = ()
    """Grants not yet found expired, oldest first; one per clinician."""

    @property
    def break_glass_access(self) -> tuple[BreakGlass, ...]:
        return tuple(grant.access for grant in self.break_glass)

    def breaking_glass(self, granted: BreakGlassGrant, now: datetime) -> ClientRecord:
        """`granted` kept, replacing the clinician's earlier grant; expired grants dropped."""
        kept = tuple(
            grant
            for grant in self.break_glass
            if grant.access.therapist_id != granted.access.therapist_id and now < grant.access.expires_at
        )
        return replace(self, break_glass=(*kept, granted))

    def with_intake(self, intake_id: str) -> ClientRecord:
        if intake_id in self.intake_ids:
            return self
        return replace(self, intake_ids=(*self.intake_ids, intake_id))

    def with_check_in(self, check_in_id: str) -> ClientRecord:
        if check_in_id in self.check_in_ids:
            return self
        return replace(self, check_in_ids=(*self.check_in_ids, check_in_id))

    def following(self, events: Sequence[tuple[BaseModel, datetime]]) -> ClientRecord:
        """The care relationships moved by `events`, each at its time (`ce_time`).

        An event that moves nothing (a booking by the system, a therapy session's
        attendance) returns the record as it was.
        """
        care = self.care
        for event, at in events:
            care = care.apply(event, at)
        return self if care == self.care else replace(self, care=care)

    def with_plan_version(
        self, version: int, updates: Sequence[tuple[BaseModel, datetime]] = ()
    ) -> ClientRecord:
        """Plan `version` written, with its `treatment-plan-updated` (`updates`) folded into care.

        `updates` are the events of this version and of any the record had not caught up
        with, so a completed plan ends the care it completes even when its writer crashed
        before updating the record. A version older than the one known stays behind it.
        """
        followed = self.following(updates)
        if version <= followed.plan_version:
            return followed
        return replace(followed, plan_version=version)

    def acknowledging(self, version: int, at: datetime) -> ClientRecord:
        """The client acknowledged plan `version` at `at`; the first acknowledgement stands."""
        if version in self.acknowledgements:
            return self
        return replace(self, acknowledgements=MappingProxyType({**self.acknowledgements, version: at}))

    def acknowledged_at(self, version: int) -> datetime | None:
        return self.acknowledgements.get(version)
