"""A match proposal's status machine: what a client may still do with it, and each move it makes.

Status moves forward only:

    proposed -> accepted -> booked
       |           |          |
       +-----------+----------+--> declined | switched | failed | expired | superseded

While `proposed` or `accepted` the candidates' capacity is held (`is_holding`); the booked
therapist's hold turns into a place in their caseload. A client may accept, decline or
switch while the proposal is open (`is_open`), and decline an expired one too (they ask for
another). Each move returns a `Step` (the status reached and what it records), or None when
the proposal is past it, so a move repeated by a redelivery or a retry changes nothing.
Pure: time is passed in; `store/proposals.py` maps documents to and from these values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.events.envelope import deterministic_event_id
from shared.events.models import SessionBooked
from shared.refusals import Conflict


def match_id_for(*parts: str) -> str:
    """A proposal's id, derived from what caused it (e.g. ("intake", intake_id)): handling that
    cause again finds the proposal it made instead of making a second one."""
    return deterministic_event_id("match", *parts)


class Status(StrEnum):
    proposed = "proposed"
    accepted = "accepted"
    booked = "booked"
    declined = "declined"
    switched = "switched"
    failed = "failed"
    expired = "expired"
    superseded = "superseded"


HOLDING = frozenset({Status.proposed, Status.accepted})
"""Statuses in which the candidates' capacity is held."""
OPEN = HOLDING | {Status.booked}
"""Statuses a client may still accept, decline or switch from."""
ACCEPTABLE = frozenset({Status.proposed, Status.booked})
"""Statuses an acceptance applies to (a booked proposal may move to another candidate)."""
DECLINABLE = OPEN | {Status.expired}
"""An expired proposal may be declined too: the client asks for another."""


@dataclass(frozen=True, slots=True)
class Step:
    """One move of the status machine: the status it reaches and what it records on the way."""

    status: Status
    records: Mapping[str, Any] = field(default_factory=dict)
    announced: bool = True
    """Whether the event the caller prepared for this move (match-accepted, match-declined)
    goes out with it; a booking announces only the acceptance it records."""


@dataclass(frozen=True, slots=True)
class Proposal:
    match_id: str
    client_id: str
    status: Status
    candidates: tuple[str, ...] = ()
    """The candidates' therapist ids, best ranked first."""
    origin: str = "intake"
    sequence: int = 1
    accepted_therapist_id: str | None = None
    booked_therapist_id: str | None = None
    closed_by: str | None = None
    correlation_id: str | None = None

    # ------------------------------------------------------------------ questions

    @property
    def is_holding(self) -> bool:
        return self.status in HOLDING

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def names(self, therapist_id: str) -> bool:
        return therapist_id in self.candidates

    def candidates_but(self, keep: str | None) -> list[str]:
        """The candidates whose holds go back when `keep` (if any) stays."""
        return [therapist_id for therapist_id in self.candidates if therapist_id != keep]

    def accepted_with(self, therapist_id: str) -> bool:
        return self.accepted_therapist_id == therapist_id

    def closed_as(self, status: Status, by: str) -> bool:
        """Closed with `status` by this very cause (a retry finds its own work done)."""
        return self.status is status and self.closed_by == by

    def choice(self, therapist_id: str | None) -> str:
        """Whom an acceptance names: the one asked for, else the one booked, else the best ranked."""
        if not self.candidates:
            raise Conflict(f"match {self.match_id} has no candidates to accept")
        return therapist_id or self.booked_therapist_id or self.candidates[0]

    def ensure_acceptable(self, chosen: str) -> None:
        """Refuse an acceptance of `chosen` the proposal's state does not allow."""
        if self.accepted_therapist_id is not None and self.accepted_therapist_id != chosen:
            raise Conflict(f"match {self.match_id} was accepted with another therapist; decline it first")
        if self.status not in ACCEPTABLE:
            raise Conflict(f"match {self.match_id} is {self.status}")

    def may_decline(self, by: str) -> bool:
        return self.status in DECLINABLE or self.closed_by == by

    def may_expire(self, by: str) -> bool:
        """An unanswered proposal naming somebody expires (an empty one waits on the waitlist)."""
        return bool(self.candidates) and (
            self.status is Status.proposed or self.closed_as(Status.expired, by)
        )

    def may_fail(self, by: str) -> bool:
        return self.is_holding or self.closed_as(Status.failed, by)

    def chosen_by_booking(self, booking: SessionBooked) -> bool:
        """Whether the client's own booking is their choice of a therapist from this proposal.

        The client booked (not a clinician, an admin, or the system booking a proposal at once)
        an introduction, naming this proposal, which is still open, names the therapist as a
        candidate and has nobody accepted yet.
        """
        return (
            booking.booked_by == "client"
            and booking.kind == "introduction"
            and booking.match_id == self.match_id
            and self.is_holding
            and self.accepted_therapist_id is None
            and self.names(booking.therapist_id)
        )

    # ------------------------------------------------------------------ moves

    def accept(self, therapist_id: str, now: datetime) -> Step | None:
        if self.status not in ACCEPTABLE:
            return None
        status = Status.booked if self.status is Status.booked else Status.accepted
        return Step(status, {"accepted_therapist_id": therapist_id, "accepted_at": now})

    def book(self, therapist_id: str, now: datetime, *, choosing: bool, chosen_by: str | None) -> Step | None:
        """Booked with `therapist_id`; `choosing`: the booking is also the client's acceptance of
        them, recorded as an acceptance is, which applies only while nobody is accepted yet."""
        if not self.is_holding:
            return None
        booked = {"booked_therapist_id": therapist_id, "booked_at": now}
        if not choosing or self.accepted_therapist_id is not None:
            return Step(Status.booked, booked, announced=False)
        accepted = {"accepted_therapist_id": therapist_id, "accepted_at": now, "accepted_by": chosen_by}
        return Step(Status.booked, booked | accepted)

    def decline(
        self, now: datetime, *, by: str, therapist_ids: list[str], successor: str, reason: str
    ) -> Step | None:
        return self._close(
            Status.declined,
            now,
            by=by,
            only_from=DECLINABLE,
            declined_therapist_ids=therapist_ids,
            successor=successor,
            decline_reason=reason,
        )

    def fail(self, now: datetime, *, by: str, successor: str, reason: str) -> Step | None:
        return self._close(
            Status.failed, now, by=by, only_from=HOLDING, successor=successor, failure_reason=reason
        )

    def expire(self, now: datetime, *, by: str, successor: str | None) -> Step | None:
        return self._close(
            Status.expired, now, by=by, only_from=frozenset({Status.proposed}), successor=successor
        )

    def supersede(self, now: datetime, *, by: str) -> Step | None:
        """A newer proposal replaces this one (a new intake, a waiting client matched at last)."""
        return self._close(Status.superseded, now, by=by, only_from=HOLDING, successor=by)

    def _close(
        self, status: Status, now: datetime, *, by: str, only_from: frozenset[Status], **records: Any
    ) -> Step | None:
        """Closed stays closed: only a proposal in `only_from` moves."""
        if self.status not in only_from:
            return None
        return Step(status, {**records, "closed_at": now, "closed_by": by})
