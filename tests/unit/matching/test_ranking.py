"""Ranking: best first, top-k, ties by id, explained; the index narrows the pool by hard constraints."""

from __future__ import annotations

import random

from services.matching.domain import filters
from services.matching.domain.directory_index import DirectoryIndex
from services.matching.domain.filters import ProposalRound
from services.matching.domain.needs import ClientNeeds
from services.matching.domain.outcomes import OutcomeBook
from services.matching.domain.ranking import Ranking, rank
from services.matching.domain.scoring import Scorer
from services.matching.domain.therapist import Therapist
from tests.unit.matching.builders import NOW, availability, needs, therapist


def ranked(pool: list[Therapist], client: ClientNeeds | None = None, k: int = 3, **moment: object) -> Ranking:
    client = client or needs()
    at = ProposalRound(now=NOW, **moment)  # type: ignore[arg-type]
    return rank(pool, client, at, Scorer(client, now=NOW, outcomes=OutcomeBook()), k)


def ids(ranking: Ranking) -> list[str]:
    return [c.therapist_id for c in ranking.candidates]


def test_the_best_fit_ranks_first() -> None:
    generalist = therapist("t-a", specialties=[{"concern": "stress", "years": 3}])
    specialist = therapist("t-b", availability=availability())
    assert ids(ranked([generalist, specialist])) == ["t-b", "t-a"]


def test_only_the_top_k_are_returned_with_ranks_from_one() -> None:
    ranking = ranked([therapist(f"t-{i}") for i in range(6)], k=3)
    assert [c.rank for c in ranking.candidates] == [1, 2, 3]


def test_ties_break_by_therapist_id() -> None:
    pool = [therapist(i) for i in ("t-c", "t-a", "t-b")]
    assert ids(ranked(pool)) == ["t-a", "t-b", "t-c"]


def test_the_same_pool_in_any_order_ranks_the_same() -> None:
    pool = [
        therapist(f"t-{i}", capacity=3 + i % 4, caseload=[f"c-{j}" for j in range(i % 3)]) for i in range(12)
    ]
    first = ranked(pool, k=5)
    for seed in range(5):
        shuffled = pool[:]
        random.Random(seed).shuffle(shuffled)
        assert ranked(shuffled, k=5) == first


def test_ineligible_therapists_are_never_ranked_however_well_they_score() -> None:
    unlicensed = therapist("t-a", licensed_jurisdictions=["US-NY"], availability=availability())
    assert ids(ranked([unlicensed, therapist("t-b")])) == ["t-b"]


def test_an_empty_ranking_names_the_constraint_that_emptied_it() -> None:
    full = therapist("t-a", capacity=1, caseload=["c-9"])
    declined = therapist("t-b")
    ranking = ranked([full, declined], excluded=frozenset({"t-b"}))
    assert ranking.candidates == ()
    assert ranking.reasons == (filters.PREVIOUSLY_EXCLUDED, filters.AT_CAPACITY)


def test_the_index_pool_holds_only_therapists_passing_the_indexed_constraints() -> None:
    index = DirectoryIndex()
    for t in (
        therapist("t-ca"),
        therapist("t-us", licensed_jurisdictions=["US"]),
        therapist("t-ny", licensed_jurisdictions=["US-NY"]),
        therapist("t-fr", languages=["fr"]),
        therapist("t-closed", accepting_new_clients=False),
        therapist("t-inperson", formats=["in_person"], in_person_regions=["US-CA"]),
    ):
        index.put(t)
    pool = index.pool(needs())
    assert sorted(pool.ids) == ["t-ca", "t-us"]
    assert pool.emptied_by is None


def test_the_index_says_which_constraint_emptied_the_pool() -> None:
    index = DirectoryIndex()
    assert index.pool(needs()).emptied_by == filters.DIRECTORY_EMPTY
    index.put(therapist("t-1", high_acuity=False))
    assert index.pool(needs(jurisdiction="US-TX")).emptied_by == filters.NOT_LICENSED
    assert index.pool(needs(languages=["de"])).emptied_by == filters.LANGUAGE_NOT_SPOKEN
    assert index.pool(needs(preferences={"format": "in_person"})).emptied_by == filters.FORMAT_NOT_OFFERED
    assert index.pool(needs(risk_level="high")).emptied_by == filters.NOT_HIGH_ACUITY


def test_a_therapist_reindexed_after_a_change_moves_between_sets() -> None:
    index = DirectoryIndex()
    index.put(therapist("t-1", revision=1))
    index.put(therapist("t-1", revision=2, licensed_jurisdictions=["US-NY"]))
    assert index.pool(needs()).therapists == []
    assert [t.id for t in index.pool(needs(jurisdiction="US-NY")).therapists] == ["t-1"]


def test_an_older_copy_never_replaces_a_newer_one_in_the_index() -> None:
    index = DirectoryIndex()
    index.put(therapist("t-1", revision=5, capacity=9))
    assert not index.put(therapist("t-1", revision=4, capacity=1))
    held = index.get("t-1")
    assert held is not None and held.capacity == 9


def test_the_admin_listing_filters_by_jurisdiction_language_concern_and_accepting() -> None:
    index = DirectoryIndex()
    index.put(therapist("t-1"))
    index.put(therapist("t-2", languages=["es"], accepting_new_clients=False))
    index.put(
        therapist("t-3", specialties=[{"concern": "grief_loss", "years": 2}], licensed_jurisdictions=["US"])
    )
    assert [t.id for t in index.listing(jurisdiction="US-CA")] == ["t-1", "t-2", "t-3"]
    assert [t.id for t in index.listing(language="es-MX")] == ["t-2"]
    assert [t.id for t in index.listing(concern="grief_loss")] == ["t-3"]
    assert [t.id for t in index.listing(accepting=False)] == ["t-2"]
