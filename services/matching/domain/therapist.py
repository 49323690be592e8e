"""A therapist as ranking sees them: profile, derived load and availability, ready to compare.

Built from a stored directory document (`store/therapists.py`) and kept in the in-process
read model, so every set a filter or factor needs is built once, not once per intake.
Languages are reduced to their primary subtag (`es-MX` -> `es`): a therapist who speaks
Spanish serves a client who asks for Mexican Spanish, and the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from services.matching.domain.availability import Interval, Window, cached_utc_intervals


def primary_language(tag: str) -> str:
    """`es-MX` -> `es`: languages are matched on their primary subtag."""
    return tag.split("-", 1)[0].lower()


def country_of(jurisdiction: str) -> str:
    """`US-CA` -> `US`."""
    return jurisdiction.split("-", 1)[0]


@dataclass(frozen=True, slots=True)
class Hold:
    """Capacity set aside for an open proposal, until `expires_at` at the latest."""

    match_id: str
    client_id: str
    expires_at: datetime

    def live_at(self, now: datetime) -> bool:
        """Still holding at `now` (a hold nobody released lapses on its own)."""
        return self.expires_at > now


@dataclass(frozen=True, slots=True)
class Availability:
    """Scheduling's weekly availability of a therapist (from therapist-availability-changed)."""

    timezone: str
    windows: tuple[Window, ...]
    accepting_new_clients: bool = True


@dataclass(slots=True, eq=False)
class Therapist:
    id: str
    gender: str
    languages: frozenset[str]
    jurisdictions: frozenset[str]
    specialties: Mapping[str, int]
    approaches: frozenset[str]
    competencies: frozenset[str]
    communication_style: str | None
    formats: frozenset[str]
    in_person_regions: frozenset[str]
    price_per_session: int
    insurers: frozenset[str]
    profile_accepting: bool
    capacity: int
    high_acuity: bool
    timezone: str
    in_care: int = 0
    """Clients in the therapist's caseload (a count: ranking needs no more, and 100k
    therapists' client ids would cost the read model hundreds of megabytes)."""
    holds: tuple[Hold, ...] = ()
    availability: Availability | None = None
    revision: int = 0
    _weekly: tuple[date, tuple[Interval, ...]] | None = field(default=None, repr=False)
    free_share: float = field(init=False, repr=False)
    """The share of capacity not taken by clients in care (holds may take more): ranking's bound."""

    def __post_init__(self) -> None:
        free = self.capacity - self.in_care
        self.free_share = free / self.capacity if self.capacity > 0 and free > 0 else 0.0

    @property
    def accepting(self) -> bool:
        """Open to new clients by the directory and, when scheduling says so, by availability."""
        return self.profile_accepting and (
            self.availability is None or self.availability.accepting_new_clients
        )

    def live_holds(self, now: datetime, *, ignoring: str | None = None) -> int:
        """Holds still running at `now`, not counting the proposal `ignoring` (the one being made)."""
        return sum(1 for h in self.holds if h.live_at(now) and h.match_id != ignoring)

    def load(self, now: datetime, *, ignoring: str | None = None) -> int:
        """Clients in care plus capacity held for open proposals."""
        if not self.holds:
            return self.in_care
        return self.in_care + self.live_holds(now, ignoring=ignoring)

    def weekly_utc(self, week: date) -> tuple[Interval, ...] | None:
        """Free hours on the common UTC axis of `week`; None while scheduling has said nothing."""
        if self.availability is None:
            return None
        if self._weekly is None or self._weekly[0] != week:
            availability = self.availability
            self._weekly = (week, cached_utc_intervals(availability.windows, availability.timezone, week))
        return self._weekly[1]


def languages_of(tags: Iterable[str]) -> frozenset[str]:
    return shared(frozenset(primary_language(tag) for tag in tags))


_SHARED: dict[frozenset[str], frozenset[str]] = {}


def shared(values: Iterable[str]) -> frozenset[str]:
    """One frozenset object per distinct set of codes, shared by every therapist who has it.

    A small frozenset costs about 200 bytes and a therapist has seven; with 100k therapists
    most of them repeat (`{"en"}`, `{"video"}`...), so sharing saves hundreds of megabytes
    and lets per-set caches (approach fit) hit by identity. Distinct sets are few: the
    combinations of codes therapists actually have.
    """
    found = frozenset(values)
    return _SHARED.setdefault(found, found)
