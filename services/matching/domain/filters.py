"""Hard constraints: a therapist who fails one is never proposed, whatever their score.

Each filter returns None when the therapist passes, else the reason code that excluded
them. `HARD_FILTERS` applies them in a fixed order, the order of a funnel: when no
therapist is left, the proposal names the filter at which the funnel ran dry
(`emptied_by`), so an operator can tell "nobody licensed in US-WY" from "everyone there
is full". The first six are also what the in-process directory indexes
(`directory_index.py`), in the same order, so a ranking only ever looks at therapists who
pass them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.matching.domain.needs import ClientNeeds
from services.matching.domain.therapist import Therapist

NOT_LICENSED = "not_licensed_in_jurisdiction"
LANGUAGE_NOT_SPOKEN = "language_not_spoken"
FORMAT_NOT_OFFERED = "format_not_offered"
NOT_HIGH_ACUITY = "not_high_acuity"
NOT_ACCEPTING = "not_accepting_new_clients"
NOT_IN_REGION = "in_person_not_in_region"
OVER_BUDGET = "over_budget_and_out_of_network"
AT_CAPACITY = "at_capacity"
PREVIOUSLY_EXCLUDED = "previously_excluded"
DIRECTORY_EMPTY = "directory_empty"


@dataclass(frozen=True, slots=True)
class ProposalRound:
    """The moment a proposal is made: its id (its own holds do not count against it), the
    therapists this client may not be offered again (declined, switched away from, or with
    no slot for them), and now (holds expire)."""

    now: datetime
    match_id: str | None = None
    excluded: frozenset[str] = field(default_factory=frozenset)


HardFilter = Callable[[Therapist, ClientNeeds, ProposalRound], str | None]


def licensed(therapist: Therapist, needs: ClientNeeds, _: ProposalRound) -> str | None:
    """Licensed where the client lives: the subdivision itself, or a country-wide licence."""
    if needs.jurisdiction in therapist.jurisdictions or needs.country in therapist.jurisdictions:
        return None
    return NOT_LICENSED


def speaks_language(therapist: Therapist, needs: ClientNeeds, _: ProposalRound) -> str | None:
    return None if therapist.languages & needs.languages else LANGUAGE_NOT_SPOKEN


def offers_format(therapist: Therapist, needs: ClientNeeds, _: ProposalRound) -> str | None:
    """Offers the way the client wants to meet at all (`either` accepts video or in person)."""
    if needs.format == "either" or needs.format in therapist.formats:
        return None
    return FORMAT_NOT_OFFERED


def high_acuity_when_needed(therapist: Therapist, needs: ClientNeeds, _: ProposalRound) -> str | None:
    return NOT_HIGH_ACUITY if needs.needs_high_acuity and not therapist.high_acuity else None


def accepting(therapist: Therapist, needs: ClientNeeds, _: ProposalRound) -> str | None:
    return None if therapist.accepting else NOT_ACCEPTING


def meets_in_region(therapist: Therapist, needs: ClientNeeds, _: ProposalRound) -> str | None:
    """In person only where the therapist sees clients; `either` is met by video too."""
    return None if session_format(therapist, needs) is not None else NOT_IN_REGION


def within_budget_or_insured(therapist: Therapist, needs: ClientNeeds, _: ProposalRound) -> str | None:
    if needs.max_price is None and needs.insurer is None:
        return None
    if needs.max_price is not None and therapist.price_per_session <= needs.max_price:
        return None
    if needs.insurer is not None and needs.insurer in therapist.insurers:
        return None
    return OVER_BUDGET


def under_capacity(therapist: Therapist, needs: ClientNeeds, moment: ProposalRound) -> str | None:
    """Room for one more: clients in care plus live holds of other proposals below capacity."""
    return None if therapist.load(moment.now, ignoring=moment.match_id) < therapist.capacity else AT_CAPACITY


def not_excluded(therapist: Therapist, needs: ClientNeeds, moment: ProposalRound) -> str | None:
    return PREVIOUSLY_EXCLUDED if therapist.id in moment.excluded else None


HARD_FILTERS: tuple[tuple[str, HardFilter], ...] = (
    (NOT_LICENSED, licensed),
    (LANGUAGE_NOT_SPOKEN, speaks_language),
    (FORMAT_NOT_OFFERED, offers_format),
    (NOT_HIGH_ACUITY, high_acuity_when_needed),
    (NOT_ACCEPTING, accepting),
    (OVER_BUDGET, within_budget_or_insured),
    (NOT_IN_REGION, meets_in_region),
    (AT_CAPACITY, under_capacity),
    (PREVIOUSLY_EXCLUDED, not_excluded),
)
ORDER = {code: position for position, (code, _) in enumerate(HARD_FILTERS)}


def first_violation(
    therapist: Therapist,
    needs: ClientNeeds,
    moment: ProposalRound,
    checks: Sequence[tuple[str, HardFilter]] = HARD_FILTERS,
) -> str | None:
    """The first hard constraint `therapist` fails for this client, or None if eligible."""
    for _, check in checks:
        if (code := check(therapist, needs, moment)) is not None:
            return code
    return None


def left_after_index(needs: ClientNeeds, moment: ProposalRound) -> tuple[tuple[str, HardFilter], ...]:
    """The filters a pool from `DirectoryIndex.pool` still needs, in funnel order.

    The index guarantees the first six; of the rest, those that cannot exclude anyone for
    this client are skipped (in-person region for a video client, exclusions for a client
    without any).
    """
    left: list[tuple[str, HardFilter]] = []
    if needs.format != "video":
        left.append((NOT_IN_REGION, meets_in_region))
    left.append((AT_CAPACITY, under_capacity))
    if moment.excluded:
        left.append((PREVIOUSLY_EXCLUDED, not_excluded))
    return tuple(left)


def emptied_by(first_violations: Iterable[str]) -> list[str]:
    """Reason codes of an empty list: the filter that emptied the funnel, then the others.

    Each excluded therapist is named by the first filter they failed; the funnel runs dry
    at the latest of those filters.
    """
    codes = sorted(set(first_violations), key=ORDER.__getitem__)
    return [codes[-1], *codes[:-1]] if codes else [DIRECTORY_EMPTY]


def session_format(therapist: Therapist, needs: ClientNeeds) -> str | None:
    """How this therapist would meet this client, or None if they cannot.

    With `either`, video comes first: it books most easily and needs no travel.
    """
    video = "video" in therapist.formats
    in_person = "in_person" in therapist.formats and (
        needs.jurisdiction in therapist.in_person_regions or needs.country in therapist.in_person_regions
    )
    if needs.format == "video":
        return "video" if video else None
    if needs.format == "in_person":
        return "in_person" if in_person else None
    return "video" if video else "in_person" if in_person else None


def quick_check(
    needs: ClientNeeds, checks: Sequence[tuple[str, HardFilter]] = HARD_FILTERS
) -> Callable[[Therapist], bool]:
    """A fast necessary condition of passing `checks`: False means surely excluded.

    Only what needs neither clock nor holds, in one function: money, and room counting
    clients in care alone (holds are counted by `under_capacity` later). Ranking uses it to
    set the surely excluded aside before bounding their scores.
    """
    codes = {code for code, _ in checks}
    budget = needs.max_price if OVER_BUDGET in codes else None
    insurer = needs.insurer if OVER_BUDGET in codes else None
    money = budget is not None or insurer is not None
    room = AT_CAPACITY in codes
    ceiling = -1 if budget is None else budget

    def check(therapist: Therapist) -> bool:
        full = room and therapist.free_share <= 0.0
        unaffordable = money and therapist.price_per_session > ceiling and insurer not in therapist.insurers
        return not (full or unaffordable)

    return check
