"""Therapists' outcome records per concern domain, shrunk toward the population for small samples.

Outcome-informed matching (DOMAIN.md, Constantino et al. 2021) prefers therapists with a
record of effectiveness in the client's most elevated problem domains. A record here is,
per therapist and concern, the clients seen for that concern and, for each, the latest
check-in's verdict: reliable improvement and/or reliable deterioration against the intake
baseline (PHQ-9 drop ≥ 6 or GAD-7 drop ≥ 4, and the reverse). Each client counts once, with
their latest state, so a long course of therapy does not weigh more than a short one.

Shrinkage (empirical Bayes with a beta prior). A rate from 3 clients says little; therapist
effects explain only about 5 % of outcome variance. So each rate is the posterior mean of a
beta-binomial model whose prior is centred on the population rate for that concern:

    rate = (k + m * p) / (n + m)

with k events among n clients, p the population rate and m the prior strength in
pseudo-clients (`MATCHING_OUTCOME_PRIOR_STRENGTH`, default 10). With no record a therapist
sits exactly at the population mean; after n = m clients their own record and the
population weigh the same. The population rate p is itself estimated from every record on
the platform (that is the "empirical" part), shrunk toward a published base rate
(`BASE_RATES`) with the same strength, so a young platform starts from sensible numbers.
The strength is fixed rather than fitted by moments: on a small platform the fitted
between-therapist variance is noisy, and with therapist effects this small a fitted prior
would be about as strong anyway.

The factor compares a therapist with the population: 0.5 is average, deterioration
counts double (harm matters more than a missed gain), and the client's concerns are
weighted by priority (see `scoring.concern_weights`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

BASE_RATES = (0.5, 0.06)
"""(reliable improvement, reliable deterioration) before any data: roughly half of treated
clients improve reliably and about one in twenty deteriorates (NHS Talking Therapies reports)."""

DETERIORATION_WEIGHT = 2.0


@dataclass(frozen=True, slots=True)
class OutcomeCounts:
    """One therapist's (or the population's) record in one concern: clients and events."""

    clients: int = 0
    improved: int = 0
    deteriorated: int = 0

    def __add__(self, other: OutcomeCounts) -> OutcomeCounts:
        return OutcomeCounts(
            self.clients + other.clients,
            self.improved + other.improved,
            self.deteriorated + other.deteriorated,
        )

    def __sub__(self, other: OutcomeCounts) -> OutcomeCounts:
        return OutcomeCounts(
            self.clients - other.clients,
            self.improved - other.improved,
            self.deteriorated - other.deteriorated,
        )


def counts_of(latest: Iterable[Mapping[str, object]]) -> OutcomeCounts:
    """Counts from per-client latest states (`{"improved": bool, "deteriorated": bool}`)."""
    entries = list(latest)
    return OutcomeCounts(
        clients=len(entries),
        improved=sum(1 for e in entries if e.get("improved")),
        deteriorated=sum(1 for e in entries if e.get("deteriorated")),
    )


def shrunk(events: int, clients: int, prior_rate: float, strength: float) -> float:
    """Posterior mean of a rate under a Beta(m p, m (1 - p)) prior: (k + m p) / (n + m)."""
    return (events + strength * prior_rate) / (clients + strength)


class OutcomeBook:
    """Every therapist's counts per concern and the population totals, kept in step."""

    def __init__(self, strength: float = 10.0) -> None:
        self.strength = strength
        self._records: dict[tuple[str, str], OutcomeCounts] = {}
        self._revisions: dict[tuple[str, str], int] = {}
        self._recorded: dict[str, set[str]] = {}
        self._population: dict[str, OutcomeCounts] = {}
        self._population_rates: dict[str, tuple[float, float]] = {}

    def put(self, therapist_id: str, concern: str, counts: OutcomeCounts, *, revision: int = 0) -> bool:
        """Hold `counts` for the record; False (and nothing changes) if a newer revision is held."""
        key = (therapist_id, concern)
        if self._revisions.get(key, -1) > revision:
            return False
        self._revisions[key] = revision
        previous = self._records.get(key, OutcomeCounts())
        self._records[key] = counts
        self._population[concern] = self._population.get(concern, OutcomeCounts()) - previous + counts
        self._population_rates.pop(concern, None)
        recorded = self._recorded.setdefault(concern, set())
        if counts.clients:
            recorded.add(therapist_id)
        else:
            recorded.discard(therapist_id)
        return True

    def therapists_with_records(self, concern: str) -> set[str]:
        """Who has a record in `concern` (everyone else sits at the population mean there)."""
        return self._recorded.setdefault(concern, set())

    def counts(self, therapist_id: str, concern: str) -> OutcomeCounts | None:
        return self._records.get((therapist_id, concern))

    def population_rates(self, concern: str) -> tuple[float, float]:
        """(improvement, deterioration) rates of the whole platform for `concern`."""
        rates = self._population_rates.get(concern)
        if rates is None:
            total = self._population.get(concern, OutcomeCounts())
            rates = (
                shrunk(total.improved, total.clients, BASE_RATES[0], self.strength),
                shrunk(total.deteriorated, total.clients, BASE_RATES[1], self.strength),
            )
            self._population_rates[concern] = rates
        return rates

    def relative_effect(self, therapist_id: str, concern: str) -> float | None:
        """A therapist's shrunk advantage over the population in `concern`; None without a record.

        (improvement - population) - 2 x (deterioration - population): positive is better.
        """
        counts = self._records.get((therapist_id, concern))
        if counts is None or counts.clients == 0:
            return None
        population_improved, population_deteriorated = self.population_rates(concern)
        improved = shrunk(counts.improved, counts.clients, population_improved, self.strength)
        deteriorated = shrunk(counts.deteriorated, counts.clients, population_deteriorated, self.strength)
        return (improved - population_improved) - DETERIORATION_WEIGHT * (
            deteriorated - population_deteriorated
        )
