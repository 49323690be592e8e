"""Top-k: hard filters first, then the soft score, ties broken by therapist id.

Scores are compared rounded to 9 decimals, so two therapists whose factors are equal but
were summed in another order still tie, and a tie always goes to the smaller therapist id:
the same directory and intake give the same ranking on every replica, every time.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.matching.domain import filters
from services.matching.domain.directory_index import DirectoryIndex, Part
from services.matching.domain.filters import (
    HARD_FILTERS,
    HardFilter,
    ProposalRound,
    emptied_by,
    first_violation,
    left_after_index,
    session_format,
)
from services.matching.domain.needs import ClientNeeds
from services.matching.domain.scoring import FACTORS, Scorer, reasons
from services.matching.domain.therapist import Therapist

SCORE_DECIMALS = 9
ROUNDING_MARGIN = 1e-9


@dataclass(frozen=True, slots=True)
class RankedTherapist:
    therapist_id: str
    rank: int
    score: float
    factors: dict[str, float]
    reasons: tuple[str, ...]
    session_format: str


@dataclass(frozen=True, slots=True)
class Ranking:
    """The best `k` eligible therapists, best first; with none, `reasons` says what emptied the list."""

    candidates: tuple[RankedTherapist, ...]
    reasons: tuple[str, ...]


def rank_directory(
    index: DirectoryIndex, needs: ClientNeeds, moment: ProposalRound, scorer: Scorer, k: int
) -> Ranking:
    """Rank the whole directory for one client, touching as few therapists as it can.

    The index narrows the directory to the pool passing the indexed hard filters, and
    splits the pool by which of the client's concerns each therapist specialises in; the
    groups are ranked best bound first (`rank_groups`), so a group that cannot beat the
    k-th best found so far is never even looked at.
    """
    pool = index.pool(needs)
    groups = index.by_specialty(pool.ids, scorer.concern_weights)
    checks = left_after_index(needs, moment)
    return rank_groups(groups, needs, moment, scorer, k, checks=checks, emptied_before=pool.emptied_by)


def rank(
    pool: Iterable[Therapist],
    needs: ClientNeeds,
    moment: ProposalRound,
    scorer: Scorer,
    k: int,
    *,
    checks: Sequence[tuple[str, HardFilter]] = HARD_FILTERS,
) -> Ranking:
    """Rank `pool` (a directory, or any part of one) against every hard filter in `checks`."""
    return rank_groups(
        [Part(scorer.all_concerns_weight, True, pool)], needs, moment, scorer, k, checks=checks
    )


def rank_groups(
    groups: Iterable[Part],
    needs: ClientNeeds,
    moment: ProposalRound,
    scorer: Scorer,
    k: int,
    *,
    checks: Sequence[tuple[str, HardFilter]] = HARD_FILTERS,
    emptied_before: str | None = None,
) -> Ranking:
    """Top `k` of the groups' eligible therapists, by branch and bound.

    Each therapist has a bound, the most they could score (`Scorer.bound`, a few lookups);
    groups are taken best bound first, and within a group therapists best bound first,
    after a quick look at the hard filters that need no clock (`filters.quick_check`).
    Once a bound falls below the k-th best score found, nobody after it can enter the top k
    (a score never exceeds its bound), so the hard filters and the full score run only for
    the few who still could. Which therapists are skipped never changes the result: the top
    k by (score, id) is what scoring every one would give. The margin covers rounding.
    `emptied_before` is the code of the index stage that left no pool at all, if one did.
    """
    scored: list[tuple[float, str, Therapist]] = []
    kth_best: list[float] = []  # min-heap of the k best scores so far
    violations: list[str] = []
    quick = filters.quick_check(needs, checks)
    set_aside: list[Therapist] = []  # failed the quick check: looked at again only for reasons
    for part in sorted(groups, key=lambda part: -scorer.part_bound(part.weight, part.availability_known)):
        if len(kth_best) == k and scorer.part_bound(part.weight, part.availability_known) < (
            kth_best[0] - ROUNDING_MARGIN
        ):
            break
        bound = scorer.bound
        weight = part.weight
        bounded = []
        for therapist in part.therapists:
            if quick(therapist):
                bounded.append((-bound(therapist, weight), therapist.id, therapist))
            else:
                set_aside.append(therapist)
        heapq.heapify(bounded)  # ids are unique: tuples never compare therapists
        while bounded:
            negative_bound, therapist_id, therapist = heapq.heappop(bounded)
            if len(kth_best) == k and -negative_bound < kth_best[0] - ROUNDING_MARGIN:
                break
            code = first_violation(therapist, needs, moment, checks)
            if code is not None:
                violations.append(code)
                continue
            score = round(scorer.score(therapist), SCORE_DECIMALS)
            scored.append((-score, therapist_id, therapist))
            if len(kth_best) < k:
                heapq.heappush(kth_best, score)
            elif score > kth_best[0]:
                heapq.heapreplace(kth_best, score)
    if not scored:
        violations += [code for t in set_aside if (code := first_violation(t, needs, moment, checks))]
        codes = [emptied_before] if emptied_before else emptied_by(violations)
        return Ranking(candidates=(), reasons=tuple(codes))
    best = heapq.nsmallest(k, scored, key=lambda entry: (entry[0], entry[1]))
    candidates = tuple(
        explain(therapist, needs, scorer, position) for position, (_, _, therapist) in enumerate(best, 1)
    )
    return Ranking(candidates=candidates, reasons=())


def explain(therapist: Therapist, needs: ClientNeeds, scorer: Scorer, rank_: int) -> RankedTherapist:
    """A candidate with its per-factor breakdown and reason codes."""
    values = {name: factor(therapist, scorer) for name, factor in FACTORS.items()}
    parts = {name: scorer.weights[name] * value for name, value in values.items()}
    return RankedTherapist(
        therapist_id=therapist.id,
        rank=rank_,
        score=min(1.0, max(0.0, sum(parts.values()))),
        factors=parts,
        reasons=tuple(reasons(therapist, scorer, values)),
        session_format=session_format(therapist, needs) or needs.format,
    )
