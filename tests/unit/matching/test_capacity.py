"""A therapist's capacity (`domain/capacity.py`): holds and caseload, table by table."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.matching.domain.capacity import Capacity, InCare
from services.matching.domain.filters import ProposalRound
from services.matching.domain.therapist import Hold
from tests.unit.matching.builders import NOW, hold, needs, therapist

LAPSED = hold("m-old", client_id="c-old", minutes=-1)
OPEN = hold("m-open", client_id="c-open")
IN_CARE = InCare("c-care", "m-care", NOW - timedelta(days=30))
NEW = hold("m-new", client_id="client-1")


def capacity(*holds: Hold, caseload: tuple[InCare, ...] = (IN_CARE,)) -> Capacity:
    return Capacity(caseload=caseload, holds=holds)


@pytest.mark.parametrize(
    ("before", "capacity_of_therapist", "after"),
    [
        (capacity(OPEN, LAPSED), 10, capacity(OPEN, NEW)),  # lapsed holds go as a new one comes
        (capacity(OPEN, NEW), 10, None),  # held already for this proposal: a redelivery
        (capacity(OPEN), 2, None),  # one in care and one held: full
        (capacity(LAPSED), 2, capacity(NEW)),  # a lapsed hold takes no room
    ],
)
def test_a_hold_is_placed_once_and_only_with_room(
    before: Capacity, capacity_of_therapist: int, after: Capacity | None
) -> None:
    held = therapist(
        capacity=capacity_of_therapist,
        caseload=[entry.client_id for entry in before.caseload],
        holds=list(before.holds),
    )
    moment = ProposalRound(now=NOW, match_id=NEW.match_id)
    assert before.place_hold(NEW, held, needs(), moment) == after


def test_a_therapist_who_no_longer_qualifies_or_has_no_profile_gets_no_hold() -> None:
    moment = ProposalRound(now=NOW, match_id=NEW.match_id)
    elsewhere = therapist(licensed_jurisdictions=["US-NY"])
    assert capacity().place_hold(NEW, elsewhere, needs(), moment) is None
    assert capacity().place_hold(NEW, None, needs(), moment) is None


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (capacity(OPEN, NEW), capacity(OPEN)),
        (capacity(OPEN, NEW, LAPSED), capacity(OPEN)),
        (capacity(OPEN, LAPSED), capacity(OPEN)),  # nothing held for it, but a lapsed hold goes
        (capacity(OPEN), None),  # released already
    ],
)
def test_releasing_a_hold(before: Capacity, after: Capacity | None) -> None:
    assert before.release_hold(NEW.match_id, NOW) == after


@pytest.mark.parametrize(
    ("before", "until", "after"),
    [
        (
            capacity(NEW),
            NOW + timedelta(days=1),
            capacity(Hold("m-new", "client-1", NOW + timedelta(days=1))),
        ),
        (capacity(NEW), NOW, None),  # never shortened
        (capacity(OPEN), NOW + timedelta(days=1), None),  # nothing held for it
        (capacity(hold("m-new", minutes=-1)), NOW + timedelta(days=1), None),  # lapsed: not revived
    ],
)
def test_extending_the_accepted_therapists_hold(
    before: Capacity, until: datetime, after: Capacity | None
) -> None:
    assert before.extend_hold(NEW.match_id, until, NOW) == after


@pytest.mark.parametrize(
    ("before", "client_id", "after"),
    [
        (
            capacity(OPEN, NEW),
            "client-1",
            capacity(OPEN, caseload=(IN_CARE, InCare("client-1", "m-new", NOW))),
        ),
        (capacity(OPEN), "c-care", None),  # in care already, nothing held: a later session
        (capacity(NEW), "c-care", capacity()),  # in care already: only the hold goes
    ],
)
def test_a_first_session_turns_the_hold_into_a_place(
    before: Capacity, client_id: str, after: Capacity | None
) -> None:
    assert before.start_care(client_id, NEW.match_id, NOW) == after


@pytest.mark.parametrize(
    ("client_id", "after"),
    [("c-care", capacity(OPEN, caseload=())), ("c-other", None)],
)
def test_care_ends_once(client_id: str, after: Capacity | None) -> None:
    assert capacity(OPEN).end_care(client_id) == after


@pytest.mark.parametrize(
    ("holds", "of", "free"),
    [
        ((OPEN, LAPSED), 10, 8),  # one in care, one live hold
        ((OPEN, NEW), 2, 0),  # never below nothing
        ((), 1, 0),
    ],
)
def test_free_capacity_counts_clients_in_care_and_live_holds(
    holds: tuple[Hold, ...], of: int, free: int
) -> None:
    assert capacity(*holds).free(of, NOW) == free
