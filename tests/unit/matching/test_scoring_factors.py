"""Each soft factor on its own (0..1), the weights, and the breakdown adding up to the score."""

from __future__ import annotations

from typing import Any

import pytest

from services.matching.domain import scoring
from services.matching.domain.outcomes import OutcomeBook, OutcomeCounts
from services.matching.domain.ranking import explain
from services.matching.domain.scoring import DEFAULT_WEIGHTS, Scorer
from tests.unit.matching.builders import NOW, availability, hold, needs, therapist


def scorer(**given: Any) -> Scorer:
    """A scorer for an intake made of `given`, with `outcomes` and `match_id` taken out first."""
    outcomes = given.pop("outcomes", None) or OutcomeBook()
    match_id = given.pop("match_id", None)
    return Scorer(needs(**given), now=NOW, outcomes=outcomes, match_id=match_id)


SEVERE: dict[str, Any] = {
    "phq9": {"total": 27, "severity": "severe", "item9": 0},
    "gad7": {"total": 21, "severity": "severe"},
}
MILD: dict[str, Any] = {
    "phq9": {"total": 0, "severity": "minimal", "item9": 0},
    "gad7": {"total": 0, "severity": "minimal"},
}


def test_default_weights_add_up_to_one() -> None:
    assert sum(DEFAULT_WEIGHTS.values()) == pytest.approx(1.0)


def test_weights_are_normalised_so_any_positive_weights_keep_the_score_within_one() -> None:
    doubled = Scorer(
        needs(), now=NOW, outcomes=OutcomeBook(), weights={k: 2 * v for k, v in DEFAULT_WEIGHTS.items()}
    )
    assert sum(doubled.weights.values()) == pytest.approx(1.0)
    assert 0.0 <= doubled.score(therapist()) <= 1.0


def test_specialty_fit_is_zero_without_a_specialty_in_the_clients_concerns() -> None:
    assert scoring.specialty_fit(therapist(specialties=[{"concern": "ocd", "years": 20}]), scorer()) == 0.0


def test_specialty_fit_for_a_mild_client_ignores_years() -> None:
    novice = therapist(
        specialties=[{"concern": "anxiety", "years": 0}, {"concern": "depression", "years": 0}]
    )
    assert scoring.specialty_fit(novice, scorer(**MILD)) == pytest.approx(1.0)


def test_specialty_fit_for_a_severe_client_rewards_experience() -> None:
    severe = scorer(**SEVERE)
    novice = therapist(
        specialties=[{"concern": "anxiety", "years": 0}, {"concern": "depression", "years": 0}]
    )
    veteran = therapist(
        specialties=[{"concern": "anxiety", "years": 15}, {"concern": "depression", "years": 15}]
    )
    assert scoring.specialty_fit(novice, severe) == pytest.approx(0.5)
    assert scoring.specialty_fit(veteran, severe) == pytest.approx(1.0)


def test_specialty_fit_weighs_the_first_and_the_most_elevated_concern_most() -> None:
    client = scorer(concerns=["depression", "stress"], phq9={"total": 20, "severity": "severe", "item9": 0})
    depression_only = therapist(specialties=[{"concern": "depression", "years": 10}])
    stress_only = therapist(specialties=[{"concern": "stress", "years": 10}])
    assert scoring.specialty_fit(depression_only, client) > scoring.specialty_fit(stress_only, client)


def test_approach_fit_follows_the_domain_table() -> None:
    client = scorer(concerns=["career_change"])
    assert scoring.approach_fit(therapist(approaches=["solution_focused"]), client) == 1.0
    assert scoring.approach_fit(therapist(approaches=["cbt"]), client) == 0.0
    assert scoring.approach_fit(therapist(approaches=["integrative"]), client) == scoring.INTEGRATIVE_FIT


def test_act_suits_ocd_and_cbt_suits_substance_use() -> None:
    assert scoring.approach_fit(therapist(approaches=["act"]), scorer(concerns=["ocd"])) == 1.0
    assert scoring.approach_fit(therapist(approaches=["cbt"]), scorer(concerns=["substance_use"])) == 1.0
    assert scoring.approach_fit(therapist(approaches=["solution_focused"]), scorer(concerns=["ocd"])) == 0.0


def test_a_concern_the_table_does_not_name_is_neutral_for_every_approach() -> None:
    client = scorer(concerns=["trauma"])
    fits = {scoring.approach_fit(therapist(approaches=[a]), client) for a in ("cbt", "act", "integrative")}
    assert fits == {scoring.UNLISTED_CONCERN_FIT}


def test_the_clients_preferred_approach_counts_for_half() -> None:
    client = scorer(concerns=["anxiety"], preferences={"approach": "act"})
    assert scoring.approach_fit(therapist(approaches=["act"]), client) == 1.0
    assert scoring.approach_fit(therapist(approaches=["cbt"]), client) == 0.5


def test_gender_fit_honours_a_preference_and_is_neutral_without_one() -> None:
    prefers_male = scorer(preferences={"therapist_gender": "male"})
    assert scoring.gender_fit(therapist(gender="male"), prefers_male) == 1.0
    assert scoring.gender_fit(therapist(gender="female"), prefers_male) == 0.0
    assert scoring.gender_fit(therapist(gender="female"), scorer()) == 1.0


def test_culture_fit_is_the_share_of_requested_competencies_and_the_communication_style() -> None:
    client = scorer(
        preferences={"competencies": ["lgbtq_affirming", "latinx"], "communication_style": "gentle"}
    )
    both = therapist(competencies=["lgbtq_affirming", "latinx"], communication_style="gentle")
    half = therapist(competencies=["lgbtq_affirming"], communication_style="direct")
    assert scoring.culture_fit(both, client) == 1.0
    assert scoring.culture_fit(half, client) == pytest.approx(0.25)
    assert scoring.culture_fit(half, scorer()) == 1.0


def test_availability_fit_rewards_shared_hours_across_time_zones() -> None:
    client = scorer()  # weekday evenings in Los Angeles
    same_hours_in_new_york = availability(
        "America/New_York", [{"day": d, "start": "20:00", "end": "24:00"} for d in ("mon", "tue", "wed")]
    )
    mornings = availability("America/Los_Angeles", [{"day": "sat", "start": "08:00", "end": "10:00"}])
    assert scoring.availability_fit(therapist(availability=same_hours_in_new_york), client) == 1.0
    assert scoring.availability_fit(therapist(availability=mornings), client) == 0.0


def test_unknown_availability_scores_a_little_so_known_overlap_wins() -> None:
    assert scoring.availability_fit(therapist(availability=None), scorer()) == scoring.UNKNOWN_AVAILABILITY


def test_caseload_balance_is_the_free_share_of_capacity_counting_holds() -> None:
    busy = therapist(capacity=4, caseload=["c-1", "c-2"], holds=[hold("m-x")])
    assert scoring.caseload_balance(therapist(capacity=4), scorer()) == 1.0
    assert scoring.caseload_balance(busy, scorer()) == pytest.approx(0.25)
    assert scoring.caseload_balance(busy, scorer(match_id="m-x")) == pytest.approx(0.5)


def test_outcome_record_is_average_without_data_and_higher_with_a_good_record() -> None:
    book = OutcomeBook(strength=10)
    book.put("t-good", "anxiety", OutcomeCounts(clients=20, improved=18, deteriorated=0))
    book.put("t-bad", "anxiety", OutcomeCounts(clients=20, improved=4, deteriorated=5))
    client = scorer(outcomes=book, concerns=["anxiety"])
    assert scoring.outcome_record(therapist("t-new"), client) == 0.5
    assert (
        scoring.outcome_record(therapist("t-good"), client)
        > 0.5
        > scoring.outcome_record(therapist("t-bad"), client)
    )


def test_every_factor_stays_within_zero_and_one() -> None:
    book = OutcomeBook(strength=1)
    book.put("t-1", "anxiety", OutcomeCounts(clients=100, improved=100, deteriorated=0))
    client = scorer(outcomes=book, **SEVERE)
    for factor in scoring.FACTORS.values():
        assert 0.0 <= factor(therapist(availability=availability()), client) <= 1.0


def test_the_breakdown_adds_up_to_the_score() -> None:
    client = scorer()
    t = therapist(availability=availability(), caseload=["c-1"])
    candidate = explain(t, client.needs, client, 1)
    assert sum(candidate.factors.values()) == pytest.approx(candidate.score)
    assert candidate.score == pytest.approx(client.score(t))
    assert set(candidate.factors) == set(scoring.FACTORS)


def test_reasons_say_why_in_codes() -> None:
    client = scorer(preferences={"approach": "cbt", "therapist_gender": "female", "insurer": "aetna"})
    candidate = explain(therapist(availability=availability()), client.needs, client, 1)
    assert {
        "specialises_in_anxiety",
        "offers_preferred_approach",
        "preferred_gender",
        "availability_overlaps_yours",
        "takes_your_insurer",
    } <= set(candidate.reasons)
