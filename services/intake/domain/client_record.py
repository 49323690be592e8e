"""The client's record: the index of everything kept for one client, and how it may change.

It holds ids and the client's care relationships, never clinical content: the intakes
and check-ins of the client, the latest treatment plan version and when the client
acknowledged each version, and the care relationship with each therapist
(`shared.care.relationship`), which every access decision reads.

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

from pydantic import BaseModel

from shared.care.relationship import CareRelationships


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
