"""The in-process directory, indexed by the hard constraints, so ranking touches only the eligible.

Ranking an intake against 100 000 therapists must not look at 100 000 therapists. The index
keeps sets of therapist ids per value of the first hard filters, in the filters' order
(`filters.HARD_FILTERS`): licensed jurisdiction, language (primary subtag), format, high
acuity, accepting, and money (insurers taken; prices in order per jurisdiction). A client's
pool is the intersection of their sets, computed by the set operations of the interpreter
(C speed, proportional to the smaller set), and only the pool is checked against the
remaining filters and scored, part by part (`by_specialty`), best part first.

When an intersection comes out empty the stage that emptied it is known, which is exactly
the reason code the funnel in `filters.emptied_by` would give.

Only therapists with a profile are indexed (scheduling may report a therapist's
availability before an admin has put them in the directory). A document older than the one
held (by `revision`) is ignored, so concurrent refreshes never roll a therapist back.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from services.matching.domain import filters
from services.matching.domain.needs import ClientNeeds
from services.matching.domain.outcomes import OutcomeBook
from services.matching.domain.therapist import Therapist, country_of


@dataclass(frozen=True, slots=True)
class Pool:
    """Ids of the therapists passing the indexed filters, or the index stage that left none."""

    ids: set[str]
    emptied_by: str | None
    index: DirectoryIndex

    @property
    def therapists(self) -> list[Therapist]:
        return [self.index._therapists[i] for i in self.ids]


@dataclass(frozen=True, slots=True)
class Part:
    """Part of a pool: therapists specialising in client concerns of at most `weight`, whose
    availability is known (or not)."""

    weight: float
    availability_known: bool
    therapists: Iterable[Therapist]


MASKED_CONCERNS = 4
"""The client's heaviest concerns that split a pool; any further ones count as matched by all."""


class DirectoryIndex:
    def __init__(self, outcomes: OutcomeBook | None = None) -> None:
        self.outcomes = outcomes or OutcomeBook()
        self._therapists: dict[str, Therapist] = {}
        self._by_jurisdiction: dict[str, set[str]] = {}
        self._by_language: dict[str, set[str]] = {}
        self._by_format: dict[str, set[str]] = {}
        self._by_specialty: dict[str, set[str]] = {}
        self._high_acuity: set[str] = set()
        self._accepting: set[str] = set()
        self._with_hours: set[str] = set()  # scheduling told us their availability
        self._by_insurer: dict[str, set[str]] = {}
        self._prices: dict[str, _PriceList] = {}  # per licensed jurisdiction, by price

    def __len__(self) -> int:
        return len(self._therapists)

    def __iter__(self) -> Iterator[Therapist]:
        return iter(self._therapists.values())

    def prepare(self, week: date) -> None:
        """Place every therapist's hours on `week`'s UTC axis ahead of the first ranking.

        Otherwise the first intake to meet each therapist in a new week pays for it.
        """
        for therapist in self._therapists.values():
            therapist.weekly_utc(week)

    def get(self, therapist_id: str) -> Therapist | None:
        return self._therapists.get(therapist_id)

    def put(self, therapist: Therapist) -> bool:
        """Index `therapist`, replacing what was held; False if what was held is newer."""
        held = self._therapists.get(therapist.id)
        if held is not None:
            if held.revision > therapist.revision:
                return False
            self._unindex(held)
        self._therapists[therapist.id] = therapist
        for jurisdiction in therapist.jurisdictions:
            self._by_jurisdiction.setdefault(jurisdiction, set()).add(therapist.id)
            self._prices.setdefault(jurisdiction, _PriceList()).add(therapist.price_per_session, therapist.id)
        for insurer in therapist.insurers:
            self._by_insurer.setdefault(insurer, set()).add(therapist.id)
        for language in therapist.languages:
            self._by_language.setdefault(language, set()).add(therapist.id)
        for meeting in therapist.formats:
            self._by_format.setdefault(meeting, set()).add(therapist.id)
        for concern in therapist.specialties:
            self._by_specialty.setdefault(concern, set()).add(therapist.id)
        if therapist.high_acuity:
            self._high_acuity.add(therapist.id)
        if therapist.accepting:
            self._accepting.add(therapist.id)
        if therapist.availability is not None:
            self._with_hours.add(therapist.id)
        return True

    def remove(self, therapist_id: str, *, revision: int | None = None) -> None:
        held = self._therapists.get(therapist_id)
        if held is not None and (revision is None or held.revision <= revision):
            self._unindex(held)
            del self._therapists[therapist_id]

    def pool(self, needs: ClientNeeds) -> Pool:
        """Therapists passing the indexed filters for `needs`, or the stage that emptied the pool."""
        if not self._therapists:
            return Pool(set(), filters.DIRECTORY_EMPTY, self)
        ids = set(self._by_jurisdiction.get(needs.jurisdiction, ()))
        if needs.country != needs.jurisdiction:
            ids |= self._by_jurisdiction.get(needs.country, set())
        if not ids:
            return Pool(set(), filters.NOT_LICENSED, self)
        ids = _union_within(ids, [self._by_language.get(language, set()) for language in needs.languages])
        if not ids:
            return Pool(set(), filters.LANGUAGE_NOT_SPOKEN, self)
        if needs.format != "either":
            ids &= self._by_format.get(needs.format, set())
            if not ids:
                return Pool(set(), filters.FORMAT_NOT_OFFERED, self)
        if needs.needs_high_acuity:
            ids &= self._high_acuity
            if not ids:
                return Pool(set(), filters.NOT_HIGH_ACUITY, self)
        ids &= self._accepting
        if not ids:
            return Pool(set(), filters.NOT_ACCEPTING, self)
        if needs.max_price is not None or needs.insurer is not None:
            ids &= self._affordable(needs)
            if not ids:
                return Pool(set(), filters.OVER_BUDGET, self)
        return Pool(ids, None, self)

    def _affordable(self, needs: ClientNeeds) -> set[str]:
        """Therapists licensed for the client who are within budget or take the insurer."""
        found: set[str] = set()
        if needs.insurer is not None:
            found |= self._by_insurer.get(needs.insurer, set())
        if needs.max_price is not None:
            for jurisdiction in {needs.jurisdiction, needs.country}:
                if (prices := self._prices.get(jurisdiction)) is not None:
                    found.update(prices.at_most(needs.max_price))
        return found

    def by_specialty(self, ids: set[str], concern_weights: Sequence[tuple[str, float]]) -> list[Part]:
        """Split `ids` by which of the client's concerns each specialises in, and by whether
        their availability is known (an unknown one caps the availability factor low).

        Each part comes with the summed weight of its concerns (those beyond the
        `MASKED_CONCERNS` heaviest added to every part: an upper bound) and its therapists
        as a lazy iterable, worked out by set operations only when ranking reaches it: the
        parts that cannot beat the best found are never even computed. (`concern_weights`
        as `scoring.concern_weights` gives them.)
        """
        heaviest = sorted(concern_weights, key=lambda cw: -cw[1])[:MASKED_CONCERNS]
        beyond = sum(weight for _, weight in concern_weights) - sum(weight for _, weight in heaviest)
        specialising = [ids & self._by_specialty.get(concern, set()) for concern, _ in heaviest]
        return [
            Part(
                beyond + sum(w for bit, (_, w) in enumerate(heaviest) if mask >> bit & 1),
                known,
                self._part(ids, specialising, mask, known),
            )
            for mask in range(1 << len(heaviest))
            for known in (True, False)
        ]

    def _part(
        self, ids: set[str], specialising: list[set[str]], mask: int, known: bool
    ) -> Iterator[Therapist]:
        """The therapists of `ids` in exactly the specialisms `mask` names, with availability
        known or not (a generator: nothing is computed until ranking asks)."""
        inside = sorted((s for bit, s in enumerate(specialising) if mask >> bit & 1), key=len)
        outside = [s for bit, s in enumerate(specialising) if not mask >> bit & 1]
        members = inside[0].intersection(*inside[1:]) if inside else ids
        members = members.intersection(self._with_hours) if known else members.difference(self._with_hours)
        therapists = self._therapists
        for therapist_id in members.difference(*outside):
            yield therapists[therapist_id]

    def listing(
        self,
        *,
        jurisdiction: str | None = None,
        language: str | None = None,
        concern: str | None = None,
        accepting: bool | None = None,
    ) -> list[Therapist]:
        """Therapists matching every given criterion, by id (the admin listing)."""
        if jurisdiction is not None:
            ids = set(self._by_jurisdiction.get(jurisdiction, ()))
            if country_of(jurisdiction) != jurisdiction:
                ids |= self._by_jurisdiction.get(country_of(jurisdiction), set())
        else:
            ids = set(self._therapists)
        if language is not None:
            ids &= self._by_language.get(language.split("-", 1)[0].lower(), set())
        if accepting is not None:
            ids = ids & self._accepting if accepting else ids - self._accepting
        found = [self._therapists[i] for i in sorted(ids)]
        if concern is not None:
            found = [t for t in found if concern in t.specialties]
        return found

    def _unindex(self, therapist: Therapist) -> None:
        for jurisdiction in therapist.jurisdictions:
            self._by_jurisdiction.get(jurisdiction, set()).discard(therapist.id)
            if (prices := self._prices.get(jurisdiction)) is not None:
                prices.discard(therapist.price_per_session, therapist.id)
        for insurer in therapist.insurers:
            self._by_insurer.get(insurer, set()).discard(therapist.id)
        for language in therapist.languages:
            self._by_language.get(language, set()).discard(therapist.id)
        for meeting in therapist.formats:
            self._by_format.get(meeting, set()).discard(therapist.id)
        for concern in therapist.specialties:
            self._by_specialty.get(concern, set()).discard(therapist.id)
        self._high_acuity.discard(therapist.id)
        self._accepting.discard(therapist.id)
        self._with_hours.discard(therapist.id)


class _PriceList:
    """Therapist ids in price order, so everyone at most a budget is one slice away."""

    def __init__(self) -> None:
        self._keys: list[tuple[int, str]] = []
        self._ids: list[str] = []

    def add(self, price: int, therapist_id: str) -> None:
        at = bisect.bisect_left(self._keys, (price, therapist_id))
        self._keys.insert(at, (price, therapist_id))
        self._ids.insert(at, therapist_id)

    def discard(self, price: int, therapist_id: str) -> None:
        at = bisect.bisect_left(self._keys, (price, therapist_id))
        if at < len(self._keys) and self._keys[at] == (price, therapist_id):
            del self._keys[at]
            del self._ids[at]

    def at_most(self, price: int) -> list[str]:
        return self._ids[: bisect.bisect_left(self._keys, (price + 1, ""))]


def _union_within(ids: set[str], groups: list[set[str]]) -> set[str]:
    """`ids` ∩ (union of `groups`), without building the (possibly huge) union first."""
    if len(groups) == 1:
        return ids & groups[0]
    found: set[str] = set()
    for group in groups:
        found |= ids & group
    return found
