"""The waitlist: clients nobody could take, re-matched oldest first when a therapist frees up.

A proposal without candidates puts its client on the waitlist (`match-proposed` with
`waitlisted: true`). The rules here are pure (time passed in):

- Order: oldest first, by when the client's empty proposal was made (`since`), ties by
  client id, so every replica walks the same list the same way.
- Triggers: something that can give a waiting client a therapist names the therapists it
  concerns: new availability (`therapist-availability-changed`), a profile put with a new
  capacity, openness to new clients or licensure (`opens_room`), or a place freed (a
  cancelled first session, a completed plan, a decline or a switch that ends care).
- Whom a trigger re-matches (`to_rematch`): the oldest waiting clients whom one of those
  therapists could take now (accepting, room left counting holds, licensed where the
  client lives, speaking a language the client needs, qualified for high acuity when the
  client needs it), at most `limit` of them. A waiting client in another jurisdiction costs
  a trigger nothing, and a therapist who is full re-matches nobody.
- A re-matched client gets a new proposal only when it names somebody (then they leave
  the waitlist); a client still without candidates stays where they are, and nothing is
  published: they were told once that they wait.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.matching.domain.therapist import Therapist, country_of

PROFILE_TRIGGERS = ("capacity", "accepting_new_clients", "licensed_jurisdictions")
"""Profile fields whose change may give a waiting client a therapist (`opens_room`)."""


@dataclass(frozen=True, slots=True)
class Waiting:
    """One client on the waitlist, with just enough of their needs to tell whom a trigger concerns."""

    client_id: str
    match_id: str
    """The empty proposal the client waits on."""
    since: datetime
    jurisdiction: str
    languages: frozenset[str]
    """Primary language subtags, one of which the therapist must speak (`ClientNeeds.languages`)."""
    high_acuity: bool = False

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.since, self.client_id)

    def to_document(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "match_id": self.match_id,
            "since": self.since,
            "jurisdiction": self.jurisdiction,
            "languages": sorted(self.languages),
            "high_acuity": self.high_acuity,
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Waiting:
        return cls(
            client_id=str(document["client_id"]),
            match_id=str(document["match_id"]),
            since=document["since"],
            jurisdiction=str(document["jurisdiction"]),
            languages=frozenset(document.get("languages", ())),
            high_acuity=bool(document.get("high_acuity", False)),
        )


def in_order(waiting: Iterable[Waiting]) -> list[Waiting]:
    """Oldest first; ties by client id."""
    return sorted(waiting, key=lambda w: w.order)


def joined(waiting: Iterable[Waiting], newcomer: Waiting) -> list[Waiting]:
    """The list with `newcomer` in its place; a client is on it once (a newer wait replaces theirs)."""
    return in_order([*(w for w in waiting if w.client_id != newcomer.client_id), newcomer])


def without(waiting: Iterable[Waiting], client_id: str, match_id: str | None = None) -> list[Waiting]:
    """The list without the client; with `match_id`, only if they still wait on that proposal."""
    return [
        w for w in waiting if not (w.client_id == client_id and (match_id is None or w.match_id == match_id))
    ]


def could_take(therapist: Therapist, waiting: Waiting, now: datetime) -> bool:
    """Whether `therapist` could be proposed to `waiting` now, as far as the waitlist knows them.

    A necessary condition, not a sufficient one: the ranking that follows checks every hard
    constraint on the client's whole intake (format, money, exclusions...).
    """
    return (
        therapist.accepting
        and therapist.load(now) < therapist.capacity
        and (
            waiting.jurisdiction in therapist.jurisdictions
            or country_of(waiting.jurisdiction) in therapist.jurisdictions
        )
        and bool(therapist.languages & waiting.languages)
        and (therapist.high_acuity or not waiting.high_acuity)
    )


def to_rematch(
    waiting: Iterable[Waiting], therapists: Iterable[Therapist | None], now: datetime, limit: int
) -> list[Waiting]:
    """The oldest waiting clients (at most `limit`) whom one of the trigger's therapists could take."""
    able = [t for t in therapists if t is not None]
    if not able or limit <= 0:
        return []
    chosen: list[Waiting] = []
    for client in in_order(waiting):
        if any(could_take(therapist, client, now) for therapist in able):
            chosen.append(client)
            if len(chosen) == limit:
                break
    return chosen


def opens_room(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> bool:
    """Whether a profile put is a trigger: a new therapist, or a new capacity, openness or licensure."""
    if not before:
        return True
    return any(before.get(name) != after.get(name) for name in PROFILE_TRIGGERS)
