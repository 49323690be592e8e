"""Top-k: hard filters first, then the soft score, ties broken by therapist id.

Scores are compared rounded to 9 decimals, so two therapists whose factors are equal but
were summed in another order still tie, and a tie always goes to the smaller therapist id:
the same directory and intake give the same ranking on every replica, every time.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from services.matching.domain.filters import ProposalRound, emptied_by, first_violation, session_format
from services.matching.domain.needs import ClientNeeds
from services.matching.domain.scoring import FACTORS, Scorer, reasons
from services.matching.domain.therapist import Therapist

SCORE_DECIMALS = 9


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
    eligible: int


def rank(
    pool: Iterable[Therapist],
    needs: ClientNeeds,
    moment: ProposalRound,
    scorer: Scorer,
    k: int,
    *,
    emptied_before: str | None = None,
) -> Ranking:
    """Rank `pool` (already narrowed by the directory index, or the whole directory).

    `emptied_before` is the code of the index stage that left the pool empty, if it did.
    """
    eligible: list[tuple[float, str, Therapist]] = []
    violations: list[str] = []
    for therapist in pool:
        code = first_violation(therapist, needs, moment)
        if code is None:
            eligible.append((-round(scorer.score(therapist), SCORE_DECIMALS), therapist.id, therapist))
        else:
            violations.append(code)
    if not eligible:
        codes = [emptied_before] if emptied_before else emptied_by(violations)
        return Ranking(candidates=(), reasons=tuple(codes), eligible=0)
    best = heapq.nsmallest(k, eligible, key=lambda entry: (entry[0], entry[1]))
    candidates = tuple(
        explain(therapist, needs, scorer, position) for position, (_, _, therapist) in enumerate(best, 1)
    )
    return Ranking(candidates=candidates, reasons=(), eligible=len(eligible))


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
