"""Outcome records: shrinkage toward the population for small samples, latest verdict per client."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.matching.domain.outcomes import BASE_RATES, OutcomeBook, OutcomeCounts, counts_of, shrunk
from services.matching.store.outcomes import record_outcome
from tests.unit.matching.builders import NOW


def test_shrinkage_is_the_beta_posterior_mean() -> None:
    assert shrunk(3, 3, prior_rate=0.5, strength=10) == pytest.approx((3 + 5) / 13)
    assert shrunk(0, 0, prior_rate=0.4, strength=10) == pytest.approx(0.4)


def test_a_small_perfect_record_is_pulled_most_of_the_way_to_the_population() -> None:
    book = OutcomeBook(strength=10)
    for i in range(50):
        book.put(f"t-average-{i}", "anxiety", OutcomeCounts(clients=20, improved=10))
    book.put("t-small", "anxiety", OutcomeCounts(clients=2, improved=2))
    book.put("t-large", "anxiety", OutcomeCounts(clients=60, improved=60))
    small = book.relative_effect("t-small", "anxiety")
    large = book.relative_effect("t-large", "anxiety")
    assert small is not None and large is not None
    assert 0 < small < large
    assert small < 0.5 * (1.0 - book.population_rates("anxiety")[0])  # far from its raw 100 %


def test_without_data_the_population_rate_is_the_base_rate() -> None:
    assert OutcomeBook().population_rates("ocd") == pytest.approx(BASE_RATES)


def test_the_population_rate_learns_from_every_therapists_record() -> None:
    book = OutcomeBook(strength=10)
    book.put("t-1", "grief_loss", OutcomeCounts(clients=90, improved=90))
    improved, _ = book.population_rates("grief_loss")
    assert improved == pytest.approx((90 + 10 * BASE_RATES[0]) / 100)


def test_replacing_a_record_keeps_the_population_totals_in_step() -> None:
    book = OutcomeBook(strength=10)
    book.put("t-1", "stress", OutcomeCounts(clients=10, improved=10), revision=1)
    book.put("t-1", "stress", OutcomeCounts(clients=10, improved=0), revision=2)
    improved, _ = book.population_rates("stress")
    assert improved == pytest.approx((0 + 10 * BASE_RATES[0]) / 20)


def test_an_older_revision_of_a_record_never_replaces_a_newer_one() -> None:
    book = OutcomeBook()
    book.put("t-1", "stress", OutcomeCounts(clients=5, improved=5), revision=3)
    assert not book.put("t-1", "stress", OutcomeCounts(clients=1), revision=2)
    assert book.counts("t-1", "stress") == OutcomeCounts(clients=5, improved=5)


def test_deterioration_counts_against_a_therapist_twice_as_much() -> None:
    book = OutcomeBook(strength=10)
    book.put("t-harm", "depression", OutcomeCounts(clients=30, improved=15, deteriorated=10))
    effect = book.relative_effect("t-harm", "depression")
    assert effect is not None and effect < 0


def test_each_client_counts_once_with_their_latest_check_in() -> None:
    first = record_outcome("t-1", "anxiety", "c-1", improved=False, deteriorated=False, at=NOW, now=NOW)
    later = NOW + timedelta(days=14)
    second = record_outcome("t-1", "anxiety", "c-1", improved=True, deteriorated=False, at=later, now=later)
    stale = record_outcome("t-1", "anxiety", "c-1", improved=False, deteriorated=True, at=NOW, now=later)
    revision = first(None)
    assert revision is not None
    revision = second(dict(revision.document))
    assert revision is not None
    document = dict(revision.document)
    assert stale(document) is None
    assert counts_of(document["clients"]) == OutcomeCounts(clients=1, improved=1, deteriorated=0)
