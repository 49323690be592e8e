"""The soft score: how well an eligible therapist fits, as a weighted sum of 0..1 factors.

One function per factor, each 0..1 for one therapist and one client (`Scorer` holds what is
computed once per intake). The weights (`DEFAULT_WEIGHTS`, overridable per deployment with
`MATCHING_WEIGHT_<FACTOR>`) are divided by their sum, so the score stays within 0..1 and a
candidate's `factors` breakdown (each factor times its weight) adds up to its score.

Default weights and why:

| factor | weight | what it rewards |
|---|---|---|
| specialty | 0.25 | specialising in the client's concerns; years count more the more severe the client |
| approach | 0.15 | an approach that suits the concerns (DOMAIN.md table), and the one asked for |
| availability | 0.15 | weekly free hours shared with the client's, across time zones |
| outcomes | 0.15 | reliable improvement (and no deterioration) in the client's concerns, shrunk |
| caseload | 0.10 | free capacity: spreads load, the top profile is not piled on while peers have room |
| gender | 0.10 | the gender the client prefers, if any |
| culture | 0.10 | the cultural/identity competencies and communication style the client asked for |

Specialty weighs most because fit to the presenting problem predicts outcome best; outcome
records weigh as much as approach: therapist effects are real (about 5 % of variance) but
the records are noisy. Preferences (gender, culture) are weighed softly because
accommodating them lowers dropout (DOMAIN.md) without making a poor clinical fit win.
A factor the client expressed no wish about is 1.0 for everyone, so it never reorders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from services.matching.domain.availability import (
    Interval,
    overlap_fit,
    total_minutes,
    utc_intervals,
    week_key,
)
from services.matching.domain.needs import ClientNeeds
from services.matching.domain.outcomes import OutcomeBook
from services.matching.domain.therapist import Therapist

DEFAULT_WEIGHTS: Mapping[str, float] = {
    "specialty": 0.25,
    "approach": 0.15,
    "availability": 0.15,
    "outcomes": 0.15,
    "caseload": 0.10,
    "gender": 0.10,
    "culture": 0.10,
}

# DOMAIN.md: which concerns each approach suits. Integrative draws on several, so it
# fits every concern partly; a concern the table does not mention is neutral for all.
APPROACH_SUITS: Mapping[str, frozenset[str]] = {
    "cbt": frozenset({"depression", "anxiety", "stress", "substance_use", "disordered_eating"}),
    "act": frozenset({"depression", "anxiety", "stress", "ocd", "ptsd"}),
    "psychodynamic": frozenset({"depression", "anxiety", "disordered_eating", "somatic"}),
    "solution_focused": frozenset(
        {"stress", "life_transition", "grief_loss", "career_change", "relationships"}
    ),
}
TABLE_CONCERNS = frozenset().union(*APPROACH_SUITS.values())
INTEGRATIVE_FIT = 0.6
UNLISTED_CONCERN_FIT = 0.5
UNKNOWN_AVAILABILITY = 0.25
"""Scheduling has not told us this therapist's hours: a little, so known overlap wins."""
EXPERIENCED_YEARS = 10
"""Years in a specialty after which more experience adds nothing to the score."""


class Scorer:
    """Scores therapists for one client at one moment; build once per proposal."""

    def __init__(
        self,
        needs: ClientNeeds,
        *,
        now: datetime,
        outcomes: OutcomeBook,
        weights: Mapping[str, float] = DEFAULT_WEIGHTS,
        match_id: str | None = None,
    ) -> None:
        total = sum(weights.get(name, 0.0) for name in FACTORS)
        if total <= 0:
            raise ValueError("at least one scoring weight must be positive")
        self.needs = needs
        self.now = now
        self.match_id = match_id
        self.outcomes = outcomes
        self.weights = {name: weights.get(name, 0.0) / total for name in FACTORS}
        self.week = week_key(now)
        self.client_weekly: tuple[Interval, ...] = utc_intervals(
            needs.availability, needs.timezone, self.week
        )
        self.severity = max(needs.phq9_total / 27, needs.gad7_total / 21)
        self.concern_weights = concern_weights(needs)
        self._approach_fits: dict[frozenset[str], float] = {}
        self._approach_factors: dict[frozenset[str], float] = {}
        # What the fast path needs, computed once per intake.
        self._concern_total = sum(weight for _, weight in self.concern_weights)
        self._specialty_base = 1 - 0.5 * self.severity
        self._specialty_share = 0.5 * self.severity
        self._client_minutes = total_minutes(self.client_weekly)
        self._asks_culture = bool(needs.competencies) or needs.communication_style is not None
        self._preferred_gender = needs.preferred_gender
        self._recorded = [outcomes.therapists_with_records(c) for c, _ in self.concern_weights]
        w = self.weights
        self._specialty_weight = w["specialty"] / self._concern_total
        self._approach_weight = w["approach"]
        self._caseload_weight = w["caseload"]
        self._gender_weight = w["gender"]
        self._culture_weight = w["culture"]
        self._costly_max = {  # (availability unknown, has an outcome record) -> bound
            (unknown, recorded): w["availability"] * (UNKNOWN_AVAILABILITY if unknown else 1.0)
            + w["outcomes"] * (1.0 if recorded else 0.5)
            for unknown in (False, True)
            for recorded in (False, True)
        }
        self._all_but_costly_and_specialty = sum(
            weight for name, weight in w.items() if name not in ("specialty", "availability", "outcomes")
        )

    def score(self, therapist: Therapist) -> float:
        """The weighted sum of every factor: `cheap` plus `costly`."""
        return self.cheap(therapist) + self.costly(therapist)

    # The fast path. Ranking scores thousands of therapists per intake in a 100k directory,
    # so `cheap` and `costly` compute the very values of the factor functions below (the
    # definition, and what `ranking.explain` reports) with the per-intake work hoisted out;
    # `test_scoring_factors` holds them equal on random directories. The split lets ranking
    # bound a therapist by `cheap + costly_bound` and skip the costly part (time-zone
    # overlap, outcome records) for those who cannot make the top k anyway.

    def cheap(self, therapist: Therapist) -> float:
        """The weighted specialty, approach, gender, culture and caseload factors."""
        t = therapist
        specialties = t.specialties
        specialty = 0.0
        for concern, weight in self.concern_weights:
            years = specialties.get(concern)
            if years is not None:
                experienced = (years if years < EXPERIENCED_YEARS else EXPERIENCED_YEARS) / EXPERIENCED_YEARS
                specialty += weight * (self._specialty_base + self._specialty_share * experienced)
        approach = self._approach_factors.get(t.approaches)
        if approach is None:
            approach = self._approach_factors[t.approaches] = approach_fit(t, self)
        preferred = self.needs.preferred_gender
        gender = 1.0 if preferred is None or t.gender == preferred else 0.0
        culture = culture_fit(t, self) if self._asks_culture else 1.0
        if t.capacity > 0:
            free = t.capacity - t.load(self.now, ignoring=self.match_id)
            caseload = free / t.capacity if free > 0 else 0.0
        else:
            caseload = 0.0
        return (
            self._specialty_weight * specialty
            + self._approach_weight * approach
            + self._caseload_weight * caseload
            + self._gender_weight * gender
            + self._culture_weight * culture
        )

    def costly(self, therapist: Therapist) -> float:
        """The weighted availability overlap and outcome record."""
        weekly = therapist.weekly_utc(self.week)
        availability = (
            UNKNOWN_AVAILABILITY
            if weekly is None
            else overlap_fit(self.client_weekly, weekly, client_minutes=self._client_minutes)
        )
        tid = therapist.id
        recorded = any(tid in ids for ids in self._recorded)
        outcomes = outcome_record(therapist, self) if recorded else 0.5
        return self.weights["availability"] * availability + self.weights["outcomes"] * outcomes

    @property
    def all_concerns_weight(self) -> float:
        """The summed weight of every concern of the client (specialising in all of them)."""
        return self._concern_total

    def part_bound(self, matched_weight: float, availability_known: bool) -> float:
        """The most anyone specialising in client concerns of `matched_weight` can score."""
        costly = self._costly_max[(not availability_known, True)]
        return self._specialty_weight * matched_weight + self._all_but_costly_and_specialty + costly

    def bound(self, therapist: Therapist, matched_weight: float) -> float:
        """The most `therapist` can score, from a few lookups, if they specialise in client
        concerns of at most `matched_weight`: every factor exact or above its value.

        Specialty at full experience; approach and gender exact; culture at most its weight;
        caseload from clients in care only (holds can only lower it); the costly factors at
        the most they could give (`costly_bound`, inlined: this runs for thousands).
        """
        t = therapist
        approach = self._approach_factors.get(t.approaches)
        if approach is None:
            approach = self._approach_factors[t.approaches] = approach_fit(t, self)
        tid = t.id
        recorded = False
        for ids in self._recorded:
            if tid in ids:
                recorded = True
                break
        preferred = self._preferred_gender
        return (
            self._specialty_weight * matched_weight
            + self._approach_weight * approach
            + self._caseload_weight * t.free_share
            + (self._gender_weight if preferred is None or t.gender == preferred else 0.0)
            + self._culture_weight
            + self._costly_max[(t.availability is None, recorded)]
        )

    def costly_bound(self, therapist: Therapist) -> float:
        """The most `costly` can give this therapist, known without computing it."""
        tid = therapist.id
        recorded = False
        for ids in self._recorded:
            if tid in ids:
                recorded = True
                break
        return self._costly_max[(therapist.availability is None, recorded)]

    def approach_table_fit(self, approaches: frozenset[str]) -> float:
        fit = self._approach_fits.get(approaches)
        if fit is None:
            fit = self._approach_fits[approaches] = _table_fit(approaches, self.concern_weights)
        return fit


def concern_weights(needs: ClientNeeds) -> tuple[tuple[str, float], ...]:
    """How much each of the client's concerns counts: the first named counts most (1, 1/2, 1/3...),
    and depression and anxiety grow with their measured severity (PHQ-9, GAD-7), the most
    elevated problem domains of outcome-informed matching."""
    weights = []
    for position, concern in enumerate(needs.concerns):
        weight = 1.0 / (position + 1)
        if concern == "depression":
            weight *= 1 + needs.phq9_total / 27
        elif concern == "anxiety":
            weight *= 1 + needs.gad7_total / 21
        weights.append((concern, weight))
    return tuple(weights)


def _weighted_mean(values: list[tuple[float, float]]) -> float:
    total = sum(weight for _, weight in values)
    return sum(value * weight for value, weight in values) / total if total else 0.0


# --------------------------------------------------------------------------- factors


def specialty_fit(therapist: Therapist, scorer: Scorer) -> float:
    """Specialises in the client's concerns; the more severe the client, the more years count.

    A specialty is worth 1.0 for a mild client whatever the years; for the most severe
    client half of it comes from experience (full at `EXPERIENCED_YEARS`).
    """
    experience_share = 0.5 * scorer.severity
    values = []
    for concern, weight in scorer.concern_weights:
        years = therapist.specialties.get(concern)
        if years is None:
            values.append((0.0, weight))
        else:
            experienced = min(years, EXPERIENCED_YEARS) / EXPERIENCED_YEARS
            values.append((1 - experience_share + experience_share * experienced, weight))
    return _weighted_mean(values)


def approach_fit(therapist: Therapist, scorer: Scorer) -> float:
    """Suits the concerns (DOMAIN.md table); half of it is the client's own preference, if any."""
    table = scorer.approach_table_fit(therapist.approaches)
    preferred = scorer.needs.preferred_approach
    if preferred is None:
        return table
    return 0.5 * table + 0.5 * (1.0 if preferred in therapist.approaches else 0.0)


def _table_fit(approaches: frozenset[str], weights: tuple[tuple[str, float], ...]) -> float:
    values = []
    for concern, weight in weights:
        if concern not in TABLE_CONCERNS:
            fit = UNLISTED_CONCERN_FIT
        elif any(concern in APPROACH_SUITS.get(approach, ()) for approach in approaches):
            fit = 1.0
        elif "integrative" in approaches:
            fit = INTEGRATIVE_FIT
        else:
            fit = 0.0
        values.append((fit, weight))
    return _weighted_mean(values)


def gender_fit(therapist: Therapist, scorer: Scorer) -> float:
    preferred = scorer.needs.preferred_gender
    return 1.0 if preferred is None or therapist.gender == preferred else 0.0


def culture_fit(therapist: Therapist, scorer: Scorer) -> float:
    """Shares the competencies the client asked for (their share), and their communication style."""
    needs = scorer.needs
    parts = []
    if needs.competencies:
        parts.append(len(needs.competencies & therapist.competencies) / len(needs.competencies))
    if needs.communication_style is not None:
        parts.append(1.0 if therapist.communication_style == needs.communication_style else 0.0)
    return sum(parts) / len(parts) if parts else 1.0


def availability_fit(therapist: Therapist, scorer: Scorer) -> float:
    """Shared weekly hours across time zones (`availability.overlap_fit`)."""
    weekly = therapist.weekly_utc(scorer.week)
    if weekly is None:
        return UNKNOWN_AVAILABILITY
    return overlap_fit(scorer.client_weekly, weekly)


def caseload_balance(therapist: Therapist, scorer: Scorer) -> float:
    """The share of capacity still free, counting other proposals' holds.

    Every proposal holds its candidates' capacity, so a therapist proposed to many clients
    at once scores lower for the next: load spreads over therapists who fit about as well.
    """
    if therapist.capacity <= 0:
        return 0.0
    free = therapist.capacity - therapist.load(scorer.now, ignoring=scorer.match_id)
    return max(0.0, free / therapist.capacity)


def outcome_record(therapist: Therapist, scorer: Scorer) -> float:
    """0.5 is the platform's average in the client's concerns; better records score higher."""
    values = []
    for concern, weight in scorer.concern_weights:
        effect = scorer.outcomes.relative_effect(therapist.id, concern)
        values.append((0.5 if effect is None else min(1.0, max(0.0, 0.5 + effect)), weight))
    return _weighted_mean(values)


FACTORS: Mapping[str, Callable[[Therapist, Scorer], float]] = {
    "specialty": specialty_fit,
    "approach": approach_fit,
    "availability": availability_fit,
    "outcomes": outcome_record,
    "caseload": caseload_balance,
    "gender": gender_fit,
    "culture": culture_fit,
}


# --------------------------------------------------------------------------- reasons


def reasons(therapist: Therapist, scorer: Scorer, values: Mapping[str, float]) -> list[str]:
    """Codes a UI turns into sentences, from the unweighted factor values (`values`)."""
    needs = scorer.needs
    found = ["licensed_in_your_jurisdiction", "speaks_your_language"]
    found += [f"specialises_in_{c}" for c, _ in scorer.concern_weights if c in therapist.specialties][:3]
    if scorer.severity >= 0.5 and any(
        therapist.specialties.get(c, 0) >= 5 for c, _ in scorer.concern_weights
    ):
        found.append("experienced_for_your_severity")
    if needs.preferred_approach and needs.preferred_approach in therapist.approaches:
        found.append("offers_preferred_approach")
    if scorer.approach_table_fit(therapist.approaches) >= 0.75:
        found.append("approach_suits_your_concerns")
    if needs.preferred_gender and values["gender"] == 1.0:
        found.append("preferred_gender")
    if needs.competencies & therapist.competencies:
        found.append("shares_requested_competencies")
    if needs.communication_style and needs.communication_style == therapist.communication_style:
        found.append("preferred_communication_style")
    if therapist.availability is None:
        found.append("availability_not_yet_known")
    elif values["availability"] >= 0.5:
        found.append("availability_overlaps_yours")
    if values["outcomes"] >= 0.55:
        found.append("strong_outcomes_in_your_concerns")
    if needs.insurer and needs.insurer in therapist.insurers:
        found.append("takes_your_insurer")
    elif needs.max_price is not None:
        found.append("within_your_budget")
    if needs.needs_high_acuity:
        found.append("qualified_for_higher_acuity")
    if values["caseload"] >= 0.5:
        found.append("has_room_for_new_clients")
    return found[:20]
