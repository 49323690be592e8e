"""A client's care with us, as one document: windows, proposals, relationships, series, plan,
check-ins, sessions.

Everything scheduling knows about one client lives in one document (`clients/{client_id}`),
so a change and the events it causes are one single-document write (DESIGN §4), and the
client's events, which Kafka keeps in order on one partition, are applied one at a time.
The care relationships (`shared/care/relationship.py`) live here too, folded in the same
write as the effect of each event that moves them, so every access decision reads them.
These are plain values and the rules that belong to them: commands decide, the store writes
(`store/care_documents.py` maps them to the document and back).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from services.scheduling.domain.availability import Window, parse_clock, parse_day
from services.scheduling.domain.cancellation import HOLDS_TIME, CancelledBy, SessionStatus
from services.scheduling.domain.slots import Booked, ClientWindows
from shared.care.relationship import CareRelationships
from shared.events.common import PlanStatus, SessionCadence
from shared.refusals import NotFound

MAX_PROPOSALS = 10
MAX_UNPLACED = 20
MAX_FIRED = 20


class SessionKind(StrEnum):
    introduction = "introduction"
    therapy = "therapy"


class SeriesStatus(StrEnum):
    pending = "pending"  # records from before plans started series: waits for a plan now
    active = "active"
    paused = "paused"
    stopped = "stopped"


class Attendance(StrEnum):
    """Whether a session took place, as its therapist (or an admin) recorded it."""

    held = "held"
    no_show = "no_show"


class CheckInStatus(StrEnum):
    active = "active"
    paused = "paused"
    stopped = "stopped"


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    client_id: str
    therapist_id: str
    series_id: str
    sequence: int
    kind: SessionKind
    starts_at: datetime
    ends_at: datetime
    busy_from: datetime
    busy_to: datetime
    timezone: str  # the client's, for display; the therapist's when the client's is unknown
    therapist_timezone: str
    format: str
    join_url: str
    status: SessionStatus = SessionStatus.booked
    revision: int = 0  # iCalendar SEQUENCE: bumped on every change a calendar must show
    claims: tuple[str, ...] = ()
    match_id: str | None = None
    target: datetime | None = None  # the series occurrence it stands for
    booked_at: datetime | None = None
    updated_at: datetime | None = None
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    booked_by: str | None = None  # client, clinician, admin or system
    override_reason: str | None = None  # an admin booked outside the client's consent, and why
    attendance: Attendance | None = None
    attendance_recorded_at: datetime | None = None
    attendance_recorded_by: str | None = None
    offered_slots: tuple[datetime, ...] = ()  # a missed introduction: the next starts offered

    @property
    def holds_time(self) -> bool:
        return self.status in HOLDS_TIME

    @property
    def held(self) -> bool:
        return self.attendance is Attendance.held

    def is_upcoming(self, now: datetime) -> bool:
        return self.status is SessionStatus.booked and self.starts_at > now

    def as_booked(self) -> Booked:
        return Booked(self.session_id, self.starts_at, self.busy_from, self.busy_to)

    def cancelled(
        self, *, status: SessionStatus, by: CancelledBy, reason: str | None, now: datetime
    ) -> Session:
        """The session cancelled: its claims are let go (settling releases them)."""
        return replace(
            self,
            status=status,
            cancelled_by=by.value,
            cancel_reason=reason,
            revision=self.revision + 1,
            claims=(),
            updated_at=now,
        )


@dataclass(frozen=True, slots=True)
class Unplaced:
    """A series occurrence that found no free slot nearby: reported to the client's listing."""

    target: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Series:
    series_id: str
    therapist_id: str
    therapist_timezone: str
    cadence: SessionCadence
    anchor: datetime  # the first session's start; occurrences keep its wall-clock time
    status: SeriesStatus = SeriesStatus.pending
    match_id: str | None = None
    next_sequence: int = 2
    timer_id: str | None = None
    timer_due: datetime | None = None
    unplaced: tuple[Unplaced, ...] = ()

    @property
    def in_care(self) -> bool:
        return self.status is not SeriesStatus.stopped


@dataclass(frozen=True, slots=True)
class Plan:
    """What scheduling keeps of the treatment plan: its version, status, rhythms and author."""

    version: int
    status: PlanStatus
    cadence: SessionCadence
    check_in_interval_days: int
    therapist_id: str | None = None  # the therapist whose plan it is
    updated_at: datetime | None = None  # when this version was written

    @property
    def active(self) -> bool:
        return self.status is PlanStatus.active


@dataclass(frozen=True, slots=True)
class CheckIns:
    """The check-in rhythm: the next due time and the one timer that may fire it."""

    status: CheckInStatus
    interval_days: int
    base: datetime  # the first session's start, then the last due time that fired
    due_at: datetime | None
    timer_id: str | None
    fired: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.status is CheckInStatus.active


class ProposalOutcome(StrEnum):
    waiting = "waiting"  # stored; booking waits for an acceptance
    booked = "booked"
    failed = "failed"
    declined = "declined"
    accepted_early = "accepted_early"  # an acceptance came before its proposal


@dataclass(frozen=True, slots=True)
class Proposal:
    match_id: str
    outcome: ProposalOutcome
    candidates: tuple[tuple[str, str | None], ...] = ()  # (therapist id, format), best first
    intake_id: str | None = None
    accepted_therapist_id: str | None = None
    session_id: str | None = None  # the introduction booked from it
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Care:
    client_id: str
    correlation_id: str | None = None
    timezone: str | None = None
    windows: tuple[tuple[int, Window], ...] = ()
    session_format: str = "video"
    proposals: tuple[Proposal, ...] = ()
    relationships: CareRelationships = field(default_factory=CareRelationships)
    series: Series | None = None
    plan: Plan | None = None
    check_ins: CheckIns | None = None
    sessions: tuple[Session, ...] = field(default_factory=tuple)

    # ------------------------------------------------------------------ questions

    def session(self, session_id: str) -> Session | None:
        return next((s for s in self.sessions if s.session_id == session_id), None)

    def known_session(self, session_id: str) -> Session:
        """The session, or the refusal a missing one gets."""
        found = self.session(session_id)
        if found is None:
            raise NotFound(f"no session {session_id!r}", code="session_not_found")
        return found

    def proposal(self, match_id: str) -> Proposal | None:
        return next((p for p in self.proposals if p.match_id == match_id), None)

    def upcoming(self, now: datetime, therapist_id: str | None = None) -> list[Session]:
        return sorted(
            (
                s
                for s in self.sessions
                if s.is_upcoming(now) and (therapist_id is None or s.therapist_id == therapist_id)
            ),
            key=lambda s: s.starts_at,
        )

    @property
    def in_care_with(self) -> str | None:
        """The therapist the client is in care with (their introduction was held), if any."""
        return self.relationships.in_care_with

    def current_therapist(self, now: datetime) -> str | None:
        """Whom the client's care is with or starting with: the therapist they chose (or are in
        care with), else the one an introduction is booked with for them (book at once)."""
        chosen = self.relationships.chosen
        if chosen is not None:
            return chosen
        return next((s.therapist_id for s in self.upcoming(now) if s.kind is SessionKind.introduction), None)

    def chose(self, therapist_id: str) -> bool:
        """Whether the client chose `therapist_id` (or is in care with them)."""
        return self.relationships.chosen == therapist_id

    def held_introduction(self, therapist_id: str) -> Session | None:
        """The latest introduction with `therapist_id` that was held."""
        held = [
            s
            for s in self.sessions
            if s.therapist_id == therapist_id and s.kind is SessionKind.introduction and s.held
        ]
        return max(held, key=lambda s: s.starts_at, default=None)

    def booked_from(self, match_id: str) -> Session | None:
        """The introduction booked from proposal `match_id`, while it still holds its time."""
        proposal = self.proposal(match_id)
        booked = (
            None if proposal is None or proposal.session_id is None else self.session(proposal.session_id)
        )
        return booked if booked is not None and booked.holds_time else None

    def upcoming_introduction(self, therapist_id: str, now: datetime) -> Session | None:
        return next((s for s in self.upcoming(now, therapist_id) if s.kind is SessionKind.introduction), None)

    def next_sequence(self, series_id: str) -> int:
        """The sequence number the next session of `series_id` gets."""
        return 1 + max((s.sequence for s in self.sessions if s.series_id == series_id), default=0)

    def routine_with(self, therapist_id: str) -> bool:
        """Whether the regular series with `therapist_id` runs (or is paused by the plan)."""
        series = self.series
        return (
            series is not None
            and series.therapist_id == therapist_id
            and series.status in (SeriesStatus.active, SeriesStatus.paused)
        )

    @property
    def client_windows(self) -> ClientWindows | None:
        if self.timezone is None or not self.windows:
            return None
        return ClientWindows(self.timezone, self.windows)

    # ------------------------------------------------------------------ changes

    def with_sessions(self, *sessions: Session) -> Care:
        """Add new sessions and replace changed ones (by id), keeping start order."""
        by_id = {s.session_id: s for s in self.sessions}
        by_id.update({s.session_id: s for s in sessions})
        return replace(
            self, sessions=tuple(sorted(by_id.values(), key=lambda s: (s.starts_at, s.session_id)))
        )

    def with_proposal(self, proposal: Proposal) -> Care:
        kept = [p for p in self.proposals if p.match_id != proposal.match_id]
        return replace(self, proposals=(*kept, proposal)[-MAX_PROPOSALS:])

    def cancelled_by_system(
        self, sessions: Iterable[Session], *, reason: str, now: datetime
    ) -> tuple[Care, list[Session]]:
        """`sessions` cancelled on the system's behalf (care changed): the record and them, cancelled."""
        done = [
            s.cancelled(status=SessionStatus.cancelled, by=CancelledBy.system, reason=reason, now=now)
            for s in sessions
        ]
        return self.with_sessions(*done), done


def windows_from(windows: Iterable[Mapping[str, Any]]) -> tuple[tuple[int, Window], ...]:
    """Weekly windows in their plain form (`{"day": "tue", "start": "18:00", "end": "21:00"}`)."""
    return tuple(
        (
            parse_day(str(w["day"]), "day"),
            Window(parse_clock(str(w["start"]), "start"), parse_clock(str(w["end"]), "end")),
        )
        for w in windows
    )
