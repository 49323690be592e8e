"""Properties over random directories and intakes (hypothesis).

- No proposed therapist ever violates a hard constraint, and no eligible therapist is missed
  (checked against an oracle written here from the raw profiles, not with the service's
  own filters).
- Ranking is deterministic: the same directory, loaded in any order, ranks the same, and
  the same as scoring every therapist plainly (the index and the pruning change nothing).
- The fast score equals the factors' weighted sum, and never exceeds the bounds pruning uses.
- Load spreads: identical therapists are proposed in turn rather than one piled on, and
  holds never put a therapist over capacity.
"""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.matching.commands.put_therapist import PutTherapist, put_therapist
from services.matching.domain.directory_index import DirectoryIndex
from services.matching.domain.filters import ProposalRound, first_violation, quick_check
from services.matching.domain.needs import ClientNeeds
from services.matching.domain.outcomes import OutcomeBook
from services.matching.domain.profile import TherapistProfile
from services.matching.domain.ranking import rank, rank_directory
from services.matching.domain.scoring import FACTORS, Scorer
from services.matching.handlers.on_intake_completed import on_intake_completed
from services.matching.store.therapists import therapist_from_document
from shared.events.models import IntakeCompleted
from tests.unit.matching.builders import NOW, Fakes, delivered, intake

JURISDICTIONS = ["US-CA", "US-NY", "US", "GB-ENG", "NL"]
LANGUAGES = ["en", "es", "es-MX", "fr"]
CONCERNS = ["anxiety", "depression", "stress", "ocd", "grief_loss", "trauma"]
INSURERS = ["aetna", "cigna"]
APPROACHES = ["cbt", "act", "psychodynamic", "solution_focused", "integrative"]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

windows = st.lists(
    st.tuples(st.sampled_from(DAYS), st.integers(0, 22)).map(
        lambda w: {"day": w[0], "start": f"{w[1]:02d}:00", "end": f"{w[1] + 1:02d}:00"}
    ),
    min_size=1,
    max_size=4,
)


def _some(values: list[str], *, least: int = 0, most: int = 2) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), min_size=least, max_size=most, unique=True)


FORMATS = _some(["video", "in_person"], least=1)
SPECIALTIES = st.lists(
    st.fixed_dictionaries({"concern": st.sampled_from(CONCERNS), "years": st.integers(0, 15)}),
    max_size=3,
    unique_by=lambda s: s["concern"],
)
AVAILABILITIES = st.none() | windows.map(
    lambda w: {"timezone": "Europe/London", "weekly": w, "accepting_new_clients": True, "changed_at": NOW}
)
HOLD_MINUTES = st.lists(st.integers(-30, 30), max_size=3)


@st.composite
def profiles(draw: st.DrawFn) -> dict[str, Any]:
    formats = draw(FORMATS)
    return {
        "gender": draw(st.sampled_from(["female", "male", "nonbinary"])),
        "languages": draw(_LANGUAGES),
        "licensed_jurisdictions": draw(_JURISDICTIONS),
        "specialties": draw(SPECIALTIES),
        "approaches": draw(_APPROACHES),
        "formats": formats,
        "in_person_regions": draw(_JURISDICTIONS) if "in_person" in formats else [],
        "price_per_session": draw(st.integers(50, 250)),
        "insurers": draw(_INSURERS),
        "accepting_new_clients": draw(st.booleans()),
        "capacity": draw(st.integers(0, 4)),
        "high_acuity": draw(st.booleans()),
        "timezone": draw(st.sampled_from(["America/Los_Angeles", "America/New_York", "Europe/Amsterdam"])),
    }


_LANGUAGES = _some(LANGUAGES, least=1)
_JURISDICTIONS = _some(JURISDICTIONS, least=1)
_APPROACHES = _some(APPROACHES, least=1)
_INSURERS = _some(INSURERS)


@st.composite
def directory_documents(draw: st.DrawFn) -> list[dict[str, Any]]:
    documents = []
    for number in range(draw(st.integers(0, 14))):
        profile = TherapistProfile.model_validate(draw(profiles())).model_dump(mode="json")
        in_care = draw(st.integers(0, 4))
        caseload = [{"client_id": f"c-{number}-{i}", "match_id": None, "since": NOW} for i in range(in_care)]
        holds = [
            {"match_id": f"m-{number}-{i}", "client_id": "x", "expires_at": NOW + timedelta(minutes=minutes)}
            for i, minutes in enumerate(draw(HOLD_MINUTES))
        ]
        documents.append(
            {
                "_id": f"t-{number:03d}",
                "profile": profile,
                "caseload": caseload,
                "holds": holds,
                "availability": draw(AVAILABILITIES),
                "revision": 1,
            }
        )
    return documents


@st.composite
def intakes(draw: st.DrawFn) -> IntakeCompleted:
    preferences: dict[str, Any] = {"format": draw(st.sampled_from(["video", "in_person", "either"]))}
    if draw(st.booleans()):
        preferences["language"] = draw(st.sampled_from(LANGUAGES))
    if draw(st.booleans()):
        preferences["max_price_per_session"] = draw(st.integers(40, 260))
    if draw(st.booleans()):
        preferences["insurer"] = draw(st.sampled_from(INSURERS))
    if draw(st.booleans()):
        preferences["approach"] = draw(st.sampled_from(APPROACHES))
    return intake(
        jurisdiction=draw(st.sampled_from([*JURISDICTIONS[:2], "GB-ENG", "NL-NH", "US-TX"])),
        languages=draw(_LANGUAGES),
        concerns=draw(_some(CONCERNS, least=1, most=3)),
        risk_level=draw(st.sampled_from(["none", "low", "moderate", "high"])),
        availability=draw(windows),
        preferences=preferences,
    )


def eligible_by_oracle(
    document: dict[str, Any], client: IntakeCompleted, match_id: str, excluded: set[str]
) -> bool:
    """Every hard constraint, restated from the raw profile and intake."""
    p = document["profile"]
    prefs = client.preferences
    country = client.jurisdiction.split("-")[0]
    licensed = client.jurisdiction in p["licensed_jurisdictions"] or country in p["licensed_jurisdictions"]
    wanted = [prefs.language] if prefs.language else client.languages
    spoken = {tag.split("-")[0] for tag in p["languages"]}
    speaks = any(tag.split("-")[0] in spoken for tag in wanted)
    regions = p["in_person_regions"]
    video = "video" in p["formats"]
    in_person = "in_person" in p["formats"] and (client.jurisdiction in regions or country in regions)
    meets = {"video": video, "in_person": in_person, "either": video or in_person}[prefs.format.value]
    budget, insurer = prefs.max_price_per_session, prefs.insurer
    affordable = (budget is None and insurer is None) or (
        (budget is not None and p["price_per_session"] <= budget)
        or (insurer is not None and insurer in p["insurers"])
    )
    acuity = client.risk_level.value not in ("moderate", "high") or p["high_acuity"]
    available = document.get("availability") or {}
    accepting = p["accepting_new_clients"] and available.get("accepting_new_clients", True)
    held = sum(1 for h in document["holds"] if h["expires_at"] > NOW and h["match_id"] != match_id)
    room = len(document["caseload"]) + held < p["capacity"]
    return all(
        (licensed, speaks, meets, affordable, acuity, accepting, room, document["_id"] not in excluded)
    )


def index_of(documents: list[dict[str, Any]]) -> DirectoryIndex:
    index = DirectoryIndex(OutcomeBook())
    for document in documents:
        therapist = therapist_from_document(document)
        assert therapist is not None
        index.put(therapist)
    return index


def ranking_for(index: DirectoryIndex, client: IntakeCompleted, excluded: set[str], k: int) -> list[Any]:
    needs = ClientNeeds.from_intake(client)
    moment = ProposalRound(now=NOW, match_id="m-this", excluded=frozenset(excluded))
    scorer = Scorer(needs, now=NOW, outcomes=index.outcomes, match_id="m-this")
    return list(rank_directory(index, needs, moment, scorer, k).candidates)


def scored_everyone(index: DirectoryIndex, client: IntakeCompleted, k: int) -> list[Any]:
    """The plain way: every therapist in the directory, every filter, every factor."""
    needs = ClientNeeds.from_intake(client)
    moment = ProposalRound(now=NOW, match_id="m-this")
    scorer = Scorer(needs, now=NOW, outcomes=index.outcomes, match_id="m-this")
    return list(rank(list(index), needs, moment, scorer, k).candidates)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents=directory_documents(), client=intakes(), k=st.integers(1, 5), data=st.data())
def test_no_proposed_therapist_ever_violates_a_hard_constraint(
    documents: list[dict[str, Any]], client: IntakeCompleted, k: int, data: st.DataObject
) -> None:
    excluded = set(
        data.draw(st.lists(st.sampled_from([d["_id"] for d in documents] or ["none"]), max_size=3))
    )
    candidates = ranking_for(index_of(documents), client, excluded, k)
    by_id = {d["_id"]: d for d in documents}
    eligible = [d for d in documents if eligible_by_oracle(d, client, "m-this", excluded)]
    for candidate in candidates:
        assert eligible_by_oracle(by_id[candidate.therapist_id], client, "m-this", excluded)
    assert len(candidates) == min(k, len(eligible))  # and nobody eligible is missed


@settings(max_examples=50, deadline=None)
@given(documents=directory_documents(), client=intakes(), seed=st.integers(0, 2**32))
def test_ranking_is_deterministic_whatever_order_the_directory_loads_in(
    documents: list[dict[str, Any]], client: IntakeCompleted, seed: int
) -> None:
    shuffled = documents[:]
    random.Random(seed).shuffle(shuffled)
    first = ranking_for(index_of(documents), client, set(), 5)
    assert ranking_for(index_of(shuffled), client, set(), 5) == first
    assert scored_everyone(index_of(shuffled), client, 5) == first  # pruning and the index change nothing
    scores = [(-round(c.score, 9), c.therapist_id) for c in first]
    assert scores == sorted(scores)


async def _propose_to_many(
    profile: dict[str, Any], therapists: int, clients: int
) -> tuple[Fakes, list[str | None]]:
    fakes = Fakes(top_k=1)
    for number in range(therapists):
        await put_therapist(
            PutTherapist(f"t-{number}", TherapistProfile.model_validate(profile)), fakes.matching
        )
    handle = on_intake_completed(fakes.matching)
    tops: list[str | None] = []
    for number in range(clients):
        event, envelope = delivered(intake(intake_id=f"intake-{number}", client_id=f"client-{number}"))
        await handle(event, envelope)
        proposal = fakes.published("match-proposed")[-1]
        tops.append(proposal.candidates[0].therapist_id if proposal.candidates else None)
    return fakes, tops


@settings(max_examples=25, deadline=None)
@given(profile=profiles(), therapists=st.integers(2, 5), capacity=st.integers(1, 3))
def test_load_spreads_over_therapists_who_fit_equally(
    profile: dict[str, Any], therapists: int, capacity: int
) -> None:
    fits = profile | {
        "licensed_jurisdictions": ["US-CA"],
        "languages": ["en"],
        "formats": ["video"],
        "in_person_regions": [],
        "accepting_new_clients": True,
        "high_acuity": True,
        "insurers": ["aetna"],
        "capacity": capacity,
    }
    fakes, tops = asyncio.run(_propose_to_many(fits, therapists, therapists * capacity + 2))
    assert sorted(str(top) for top in tops[:therapists]) == [
        f"t-{n}" for n in range(therapists)
    ]  # each once before any twice
    assert all(tops[: therapists * capacity])  # nobody refused while anyone had room
    assert tops[therapists * capacity :] == [None, None]  # then everyone is full, none oversubscribed
    for document in fakes.therapists.documents.values():
        assert len(document["holds"]) <= document["profile"]["capacity"]


def test_a_slightly_better_profile_does_not_take_every_proposal_while_a_peer_has_room() -> None:
    base = TherapistProfile.model_validate(
        {
            "gender": "female",
            "languages": ["en"],
            "licensed_jurisdictions": ["US-CA"],
            "specialties": [{"concern": "anxiety", "years": 5}, {"concern": "depression", "years": 5}],
            "approaches": ["cbt"],
            "formats": ["video"],
            "price_per_session": 100,
            "capacity": 10,
            "timezone": "America/Los_Angeles",
        }
    ).model_dump(mode="json")
    better = base | {
        "specialties": [{"concern": "anxiety", "years": 6}, {"concern": "depression", "years": 6}]
    }

    async def scenario() -> list[str | None]:
        fakes = Fakes(top_k=1)
        await put_therapist(PutTherapist("t-better", TherapistProfile.model_validate(better)), fakes.matching)
        await put_therapist(PutTherapist("t-peer", TherapistProfile.model_validate(base)), fakes.matching)
        handle = on_intake_completed(fakes.matching)
        for number in range(6):
            event, envelope = delivered(intake(intake_id=f"intake-{number}", client_id=f"client-{number}"))
            await handle(event, envelope)
        return [p.candidates[0].therapist_id for p in fakes.published("match-proposed")]

    tops = asyncio.run(scenario())
    assert tops[0] == "t-better"
    assert 2 <= tops.count("t-peer") <= 4


@settings(max_examples=60, deadline=None)
@given(documents=directory_documents(), client=intakes())
def test_the_fast_score_is_the_factors_weighted_sum_and_never_above_its_bounds(
    documents: list[dict[str, Any]], client: IntakeCompleted
) -> None:
    index = index_of(documents)
    needs = ClientNeeds.from_intake(client)
    scorer = Scorer(needs, now=NOW, outcomes=index.outcomes, match_id="m-this")
    moment = ProposalRound(now=NOW, match_id="m-this")
    quick = quick_check(needs)
    for therapist in index:
        by_definition = sum(
            scorer.weights[name] * factor(therapist, scorer) for name, factor in FACTORS.items()
        )
        assert abs(scorer.score(therapist) - by_definition) < 1e-9
        assert scorer.costly(therapist) <= scorer.costly_bound(therapist)
        assert scorer.score(therapist) <= scorer.bound(therapist, scorer.all_concerns_weight) + 1e-12
        if not quick(therapist):
            assert first_violation(therapist, needs, moment) is not None
