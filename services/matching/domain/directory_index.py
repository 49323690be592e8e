"""The in-process directory, indexed by the hard constraints, so ranking touches only the eligible.

Ranking an intake against 100 000 therapists must not look at 100 000 therapists. The index
keeps sets of therapist ids per value of the first hard filters, in the filters' order
(`filters.HARD_FILTERS`): licensed jurisdiction, language (primary subtag), format, high
acuity and accepting. A client's pool is the intersection of their sets, computed by the
set operations of the interpreter (C speed, proportional to the smaller set), and only the
pool is checked against the remaining filters and scored.

When an intersection comes out empty the stage that emptied it is known, which is exactly
the reason code the funnel in `filters.emptied_by` would give.

Only therapists with a profile are indexed (scheduling may report a therapist's
availability before an admin has put them in the directory). A document older than the one
held (by `revision`) is ignored, so concurrent refreshes never roll a therapist back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from services.matching.domain import filters
from services.matching.domain.needs import ClientNeeds
from services.matching.domain.outcomes import OutcomeBook
from services.matching.domain.therapist import Therapist, country_of


@dataclass(frozen=True, slots=True)
class Pool:
    therapists: list[Therapist]
    emptied_by: str | None


class DirectoryIndex:
    def __init__(self, outcomes: OutcomeBook | None = None) -> None:
        self.outcomes = outcomes or OutcomeBook()
        self._therapists: dict[str, Therapist] = {}
        self._by_jurisdiction: dict[str, set[str]] = {}
        self._by_language: dict[str, set[str]] = {}
        self._by_format: dict[str, set[str]] = {}
        self._high_acuity: set[str] = set()
        self._accepting: set[str] = set()

    def __len__(self) -> int:
        return len(self._therapists)

    def __iter__(self) -> Iterator[Therapist]:
        return iter(self._therapists.values())

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
        for language in therapist.languages:
            self._by_language.setdefault(language, set()).add(therapist.id)
        for meeting in therapist.formats:
            self._by_format.setdefault(meeting, set()).add(therapist.id)
        if therapist.high_acuity:
            self._high_acuity.add(therapist.id)
        if therapist.accepting:
            self._accepting.add(therapist.id)
        return True

    def remove(self, therapist_id: str, *, revision: int | None = None) -> None:
        held = self._therapists.get(therapist_id)
        if held is not None and (revision is None or held.revision <= revision):
            self._unindex(held)
            del self._therapists[therapist_id]

    def pool(self, needs: ClientNeeds) -> Pool:
        """Therapists passing the indexed filters for `needs`, or the stage that emptied the pool."""
        if not self._therapists:
            return Pool([], filters.DIRECTORY_EMPTY)
        ids = set(self._by_jurisdiction.get(needs.jurisdiction, ()))
        if needs.country != needs.jurisdiction:
            ids |= self._by_jurisdiction.get(needs.country, set())
        if not ids:
            return Pool([], filters.NOT_LICENSED)
        ids = _union_within(ids, [self._by_language.get(language, set()) for language in needs.languages])
        if not ids:
            return Pool([], filters.LANGUAGE_NOT_SPOKEN)
        if needs.format != "either":
            ids &= self._by_format.get(needs.format, set())
            if not ids:
                return Pool([], filters.FORMAT_NOT_OFFERED)
        if needs.needs_high_acuity:
            ids &= self._high_acuity
            if not ids:
                return Pool([], filters.NOT_HIGH_ACUITY)
        ids &= self._accepting
        if not ids:
            return Pool([], filters.NOT_ACCEPTING)
        return Pool([self._therapists[i] for i in ids], None)

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
        for language in therapist.languages:
            self._by_language.get(language, set()).discard(therapist.id)
        for meeting in therapist.formats:
            self._by_format.get(meeting, set()).discard(therapist.id)
        self._high_acuity.discard(therapist.id)
        self._accepting.discard(therapist.id)


def _union_within(ids: set[str], groups: list[set[str]]) -> set[str]:
    """`ids` ∩ (union of `groups`), without building the (possibly huge) union first."""
    if len(groups) == 1:
        return ids & groups[0]
    found: set[str] = set()
    for group in groups:
        found |= ids & group
    return found
