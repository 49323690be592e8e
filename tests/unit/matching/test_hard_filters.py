"""Each hard constraint: who passes, who is excluded, and the reason code that says why."""

from __future__ import annotations

from datetime import timedelta

from services.matching.domain import filters
from services.matching.domain.filters import ProposalRound, emptied_by, first_violation, session_format
from tests.unit.matching.builders import NOW, as_availability, availability, hold, needs, therapist

MOMENT = ProposalRound(now=NOW, match_id="m-now")


def test_a_therapist_licensed_in_the_clients_subdivision_passes() -> None:
    assert filters.licensed(therapist(licensed_jurisdictions=["US-CA"]), needs(), MOMENT) is None


def test_a_country_wide_licence_covers_every_subdivision_of_that_country() -> None:
    nl = needs(jurisdiction="NL-NH")
    assert filters.licensed(therapist(licensed_jurisdictions=["NL"]), nl, MOMENT) is None


def test_a_therapist_licensed_elsewhere_is_excluded_as_not_licensed() -> None:
    elsewhere = therapist(licensed_jurisdictions=["US-NY", "US-NJ"])
    assert filters.licensed(elsewhere, needs(), MOMENT) == filters.NOT_LICENSED


def test_a_preferred_language_is_required_over_the_intake_languages() -> None:
    spanish = needs(languages=["en", "es"], preferences={"language": "es"})
    assert (
        filters.speaks_language(therapist(languages=["en"]), spanish, MOMENT) == filters.LANGUAGE_NOT_SPOKEN
    )
    assert filters.speaks_language(therapist(languages=["es-ES"]), spanish, MOMENT) is None


def test_without_a_preferred_language_any_intake_language_will_do() -> None:
    bilingual = needs(languages=["pt-BR", "en"])
    assert filters.speaks_language(therapist(languages=["en"]), bilingual, MOMENT) is None
    assert filters.speaks_language(therapist(languages=["pt"]), bilingual, MOMENT) is None
    assert (
        filters.speaks_language(therapist(languages=["fr"]), bilingual, MOMENT) == filters.LANGUAGE_NOT_SPOKEN
    )


def test_languages_match_on_their_primary_subtag() -> None:
    mexican_spanish = needs(languages=["es-MX"])
    assert filters.speaks_language(therapist(languages=["es"]), mexican_spanish, MOMENT) is None


def test_a_video_client_needs_a_therapist_offering_video() -> None:
    in_person_only = therapist(formats=["in_person"], in_person_regions=["US-CA"])
    assert filters.offers_format(in_person_only, needs(), MOMENT) == filters.FORMAT_NOT_OFFERED
    assert filters.offers_format(therapist(formats=["video"]), needs(), MOMENT) is None


def test_in_person_needs_the_clients_region_among_the_therapists_regions() -> None:
    wants_in_person = needs(preferences={"format": "in_person"})
    far = therapist(formats=["in_person"], in_person_regions=["US-NV"])
    near = therapist(formats=["in_person"], in_person_regions=["US-CA"])
    assert filters.offers_format(far, wants_in_person, MOMENT) is None  # offers it at all
    assert filters.meets_in_region(far, wants_in_person, MOMENT) == filters.NOT_IN_REGION
    assert filters.meets_in_region(near, wants_in_person, MOMENT) is None


def test_either_format_accepts_video_or_in_person_in_region() -> None:
    either = needs(preferences={"format": "either"})
    assert session_format(therapist(formats=["video"]), either) == "video"
    assert session_format(therapist(formats=["in_person"], in_person_regions=["US"]), either) == "in_person"
    far = therapist(formats=["in_person"], in_person_regions=["US-NV"])
    assert filters.meets_in_region(far, either, MOMENT) == filters.NOT_IN_REGION


def test_either_format_prefers_video_when_the_therapist_offers_both() -> None:
    both = therapist(formats=["video", "in_person"], in_person_regions=["US-CA"])
    assert session_format(both, needs(preferences={"format": "either"})) == "video"


def test_a_budget_passes_a_price_within_it() -> None:
    budget = needs(preferences={"max_price_per_session": 100})
    assert filters.within_budget_or_insured(therapist(price_per_session=100), budget, MOMENT) is None
    assert (
        filters.within_budget_or_insured(therapist(price_per_session=101, insurers=[]), budget, MOMENT)
        == filters.OVER_BUDGET
    )


def test_an_insurer_the_therapist_takes_passes_whatever_the_price() -> None:
    insured = needs(preferences={"max_price_per_session": 50, "insurer": "aetna"})
    assert (
        filters.within_budget_or_insured(
            therapist(price_per_session=200, insurers=["aetna"]), insured, MOMENT
        )
        is None
    )
    out_of_network = therapist(price_per_session=200, insurers=["cigna"])
    assert filters.within_budget_or_insured(out_of_network, insured, MOMENT) == filters.OVER_BUDGET


def test_a_client_with_an_insurer_and_no_budget_needs_an_in_network_therapist() -> None:
    insured = needs(preferences={"insurer": "aetna"})
    assert filters.within_budget_or_insured(
        therapist(price_per_session=10, insurers=[]), insured, MOMENT
    ) == (filters.OVER_BUDGET)


def test_a_client_without_budget_or_insurer_is_not_filtered_on_money() -> None:
    assert (
        filters.within_budget_or_insured(therapist(price_per_session=900, insurers=[]), needs(), MOMENT)
        is None
    )


def test_moderate_and_high_risk_need_a_high_acuity_therapist() -> None:
    for risk in ("moderate", "high"):
        client = needs(risk_level=risk)
        assert (
            filters.high_acuity_when_needed(therapist(high_acuity=False), client, MOMENT)
            == filters.NOT_HIGH_ACUITY
        )
        assert filters.high_acuity_when_needed(therapist(high_acuity=True), client, MOMENT) is None
    for risk in ("none", "low"):
        assert (
            filters.high_acuity_when_needed(therapist(high_acuity=False), needs(risk_level=risk), MOMENT)
            is None
        )


def test_a_therapist_not_accepting_new_clients_is_excluded() -> None:
    assert filters.accepting(therapist(accepting_new_clients=False), needs(), MOMENT) == filters.NOT_ACCEPTING


def test_scheduling_saying_not_accepting_excludes_too() -> None:
    closed = availability() | {"accepting_new_clients": False}
    t = therapist(availability=closed)
    assert t.availability is not None and not t.availability.accepting_new_clients
    assert filters.accepting(t, needs(), MOMENT) == filters.NOT_ACCEPTING
    assert as_availability(availability()).accepting_new_clients


def test_capacity_counts_caseload_and_live_holds() -> None:
    full = therapist(capacity=2, caseload=["c-1"], holds=[hold("m-other")])
    assert filters.under_capacity(full, needs(), MOMENT) == filters.AT_CAPACITY
    room = therapist(capacity=3, caseload=["c-1"], holds=[hold("m-other")])
    assert filters.under_capacity(room, needs(), MOMENT) is None


def test_expired_holds_free_their_capacity() -> None:
    lapsed = therapist(capacity=1, holds=[hold("m-old", minutes=-1)])
    assert filters.under_capacity(lapsed, needs(), MOMENT) is None


def test_the_proposals_own_hold_does_not_count_against_it() -> None:
    own = therapist(capacity=1, holds=[hold("m-now")])
    assert filters.under_capacity(own, needs(), MOMENT) is None
    assert (
        filters.under_capacity(own, needs(), ProposalRound(now=NOW, match_id="m-else")) == filters.AT_CAPACITY
    )


def test_a_therapist_with_no_capacity_is_never_under_capacity() -> None:
    assert filters.under_capacity(therapist(capacity=0), needs(), MOMENT) == filters.AT_CAPACITY


def test_a_previously_excluded_therapist_is_excluded() -> None:
    declined = ProposalRound(now=NOW, excluded=frozenset({"t-1"}))
    assert filters.not_excluded(therapist("t-1"), needs(), declined) == filters.PREVIOUSLY_EXCLUDED
    assert filters.not_excluded(therapist("t-2"), needs(), declined) is None


def test_first_violation_reports_the_first_filter_in_funnel_order() -> None:
    nowhere = therapist(licensed_jurisdictions=["US-NY"], languages=["fr"], accepting_new_clients=False)
    assert first_violation(nowhere, needs(), MOMENT) == filters.NOT_LICENSED
    assert first_violation(therapist(), needs(), MOMENT) is None


def test_the_funnel_names_the_filter_that_emptied_it_first() -> None:
    reasons = emptied_by([filters.NOT_LICENSED, filters.AT_CAPACITY, filters.NOT_LICENSED])
    assert reasons == [filters.AT_CAPACITY, filters.NOT_LICENSED]
    assert emptied_by([]) == [filters.DIRECTORY_EMPTY]


def test_holds_expire_exactly_at_their_expiry() -> None:
    at_expiry = ProposalRound(now=NOW + timedelta(minutes=60), match_id="m-now")
    assert (
        filters.under_capacity(therapist(capacity=1, holds=[hold("m-x", minutes=60)]), needs(), at_expiry)
        is None
    )
