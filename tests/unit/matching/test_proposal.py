"""The proposal's status machine (`domain/proposal.py`), table by table: no store, no clock."""

from __future__ import annotations

from typing import Any

import pytest

from services.matching.domain.proposal import Proposal, Status, Step
from shared.refusals import Conflict
from tests.unit.matching.builders import NOW, session_booked

CANDIDATES = ("t-1", "t-2", "t-3")
EVERY_STATUS = tuple(Status)


def proposal(status: Status = Status.proposed, **fields: Any) -> Proposal:
    return Proposal(
        **({"match_id": "m-1", "client_id": "client-1", "status": status, "candidates": CANDIDATES} | fields)
    )


@pytest.mark.parametrize(
    ("status", "holding", "open_", "declinable"),
    [
        (Status.proposed, True, True, True),
        (Status.accepted, True, True, True),
        (Status.booked, False, True, True),
        (Status.expired, False, False, True),
        (Status.declined, False, False, False),
        (Status.switched, False, False, False),
        (Status.failed, False, False, False),
        (Status.superseded, False, False, False),
    ],
)
def test_what_each_status_holds_and_allows(
    status: Status, holding: bool, open_: bool, declinable: bool
) -> None:
    found = proposal(status)
    assert (found.is_holding, found.is_open, found.may_decline("another-cause")) == (
        holding,
        open_,
        declinable,
    )


@pytest.mark.parametrize(
    ("status", "reached"),
    [
        (Status.proposed, Status.accepted),
        (Status.booked, Status.booked),  # a booked proposal moves to another candidate
        *[(s, None) for s in EVERY_STATUS if s not in (Status.proposed, Status.booked)],
    ],
)
def test_an_acceptance_applies_to_a_proposed_or_booked_proposal_only(
    status: Status, reached: Status | None
) -> None:
    step = proposal(status).accept("t-2", NOW)
    if reached is None:
        assert step is None
    else:
        assert step == Step(reached, {"accepted_therapist_id": "t-2", "accepted_at": NOW})


@pytest.mark.parametrize(
    ("status", "accepted", "choosing", "records_acceptance"),
    [
        (Status.proposed, None, True, True),  # the client's own booking: their choice
        (Status.proposed, None, False, False),  # booked at once by the system
        (Status.accepted, "t-1", True, False),  # accepted already: the booking chooses nothing
        (Status.accepted, "t-1", False, False),
    ],
)
def test_a_booking_records_an_acceptance_only_when_it_is_the_first_choice(
    status: Status, accepted: str | None, choosing: bool, records_acceptance: bool
) -> None:
    step = proposal(status, accepted_therapist_id=accepted).book(
        "t-2", NOW, choosing=choosing, chosen_by="ev-1"
    )
    assert step is not None and step.status is Status.booked
    assert step.records["booked_therapist_id"] == "t-2"
    assert ("accepted_therapist_id" in step.records) is records_acceptance
    assert step.announced is records_acceptance


@pytest.mark.parametrize("status", [s for s in EVERY_STATUS if s not in (Status.proposed, Status.accepted)])
def test_only_a_holding_proposal_is_booked(status: Status) -> None:
    assert proposal(status).book("t-2", NOW, choosing=True, chosen_by="ev-1") is None


CLOSES: dict[str, Any] = {
    "decline": lambda p: p.decline(
        NOW, by="c", therapist_ids=["t-1"], successor="m-2", reason="client_declined"
    ),
    "fail": lambda p: p.fail(NOW, by="c", successor="m-2", reason="no_slot"),
    "expire": lambda p: p.expire(NOW, by="c", successor=None),
    "supersede": lambda p: p.supersede(NOW, by="m-2"),
}
CLOSES_FROM = {
    "decline": ({Status.proposed, Status.accepted, Status.booked, Status.expired}, Status.declined),
    "fail": ({Status.proposed, Status.accepted}, Status.failed),
    "expire": ({Status.proposed}, Status.expired),
    "supersede": ({Status.proposed, Status.accepted}, Status.superseded),
}


@pytest.mark.parametrize("move", sorted(CLOSES))
@pytest.mark.parametrize("status", EVERY_STATUS)
def test_each_close_moves_only_from_its_statuses_and_names_who_closed(move: str, status: Status) -> None:
    allowed, reached = CLOSES_FROM[move]
    step = CLOSES[move](proposal(status))
    if status not in allowed:
        assert step is None  # closed stays closed
        return
    assert step is not None and step.status is reached
    assert step.records["closed_at"] == NOW and "closed_by" in step.records and "successor" in step.records


def test_a_decline_records_whom_and_why() -> None:
    step = CLOSES["decline"](proposal())
    assert (
        step.records["declined_therapist_ids"] == ["t-1"]
        and step.records["decline_reason"] == "client_declined"
    )


@pytest.mark.parametrize(
    ("asked", "booked", "chosen"),
    [
        ("t-3", None, "t-3"),
        (None, "t-2", "t-2"),  # by default the one booked
        (None, None, "t-1"),  # else the best ranked
        ("t-9", None, "t-9"),  # named, not a candidate: the caller refuses it
    ],
)
def test_whom_an_acceptance_names(asked: str | None, booked: str | None, chosen: str) -> None:
    assert proposal(booked_therapist_id=booked).choice(asked) == chosen


def test_an_empty_proposal_has_nobody_to_accept() -> None:
    with pytest.raises(Conflict):
        proposal(candidates=()).choice(None)


@pytest.mark.parametrize(
    ("status", "accepted", "refused"),
    [
        (Status.proposed, None, False),
        (Status.booked, None, False),
        (Status.accepted, "t-1", True),  # accepted with another: decline first
        (Status.booked, "t-1", True),
        (Status.declined, None, True),
        (Status.expired, None, True),
    ],
)
def test_when_an_acceptance_of_t2_is_a_conflict(status: Status, accepted: str | None, refused: bool) -> None:
    found = proposal(status, accepted_therapist_id=accepted)
    if refused:
        with pytest.raises(Conflict):
            found.ensure_acceptable("t-2")
    else:
        found.ensure_acceptable("t-2")


@pytest.mark.parametrize(
    ("found", "expires"),
    [
        (proposal(), True),
        (proposal(candidates=()), False),  # an empty proposal waits on the waitlist instead
        (proposal(Status.accepted), False),  # answered before it lapsed
        (proposal(Status.expired, closed_by="the-expiry"), True),  # the same expiry again: finish it
        (proposal(Status.expired, closed_by="another"), False),
    ],
)
def test_which_proposals_expire(found: Proposal, expires: bool) -> None:
    assert found.may_expire("the-expiry") is expires


@pytest.mark.parametrize(
    ("found", "fails"),
    [
        (proposal(), True),
        (proposal(Status.accepted), True),
        (proposal(Status.booked), False),  # moved on: only its holds go back
        (proposal(Status.failed, closed_by="the-failure"), True),  # redelivered: finish it
        (proposal(Status.failed, closed_by="another"), False),
    ],
)
def test_which_proposals_a_failed_booking_closes(found: Proposal, fails: bool) -> None:
    assert found.may_fail("the-failure") is fails


@pytest.mark.parametrize(
    ("found", "booking", "chooses"),
    [
        (proposal(), {"booked_by": "client", "kind": "introduction"}, True),
        (proposal(Status.accepted), {"booked_by": "client", "kind": "introduction"}, True),
        (proposal(), {"booked_by": "system", "kind": "introduction"}, False),
        (proposal(), {"booked_by": "admin", "kind": "introduction"}, False),
        (proposal(), {"booked_by": "client", "kind": "therapy"}, False),
        (proposal(), {"booked_by": "client", "kind": "introduction", "match_id": None}, False),
        (proposal(), {"booked_by": "client", "kind": "introduction", "therapist": "t-9"}, False),
        (proposal(accepted_therapist_id="t-1"), {"booked_by": "client", "kind": "introduction"}, False),
        (proposal(Status.booked), {"booked_by": "client", "kind": "introduction"}, False),
    ],
)
def test_which_bookings_are_the_clients_choice(
    found: Proposal, booking: dict[str, Any], chooses: bool
) -> None:
    fields = {"match_id": found.match_id} | booking
    booked = session_booked(fields.pop("therapist", "t-2"), **fields)
    assert found.chosen_by_booking(booked) is chooses


def test_holds_go_back_on_every_candidate_but_the_one_kept() -> None:
    assert proposal().candidates_but("t-2") == ["t-1", "t-3"]
    assert proposal().candidates_but(None) == list(CANDIDATES)
