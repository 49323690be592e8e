"""What matching keeps per client (`domain/client.py`): intakes, exclusions, proposals, the wait."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.matching.domain.client import DECLINED, NO_SLOT, SWITCHED, Client, Exclusion, Wait
from shared.care.relationship import CareState
from shared.events.common import Candidate, SessionFormat
from shared.events.models import MatchProposed
from tests.unit.matching.builders import NOW, intake

FIRST = intake(intake_id="intake-1")
LATER = intake(intake_id="intake-2", submitted_at=(NOW + timedelta(days=1)).isoformat())


def client(**fields: Any) -> Client:
    return Client(**({"client_id": "client-1"} | fields))


def proposed(match_id: str, *candidates: str) -> MatchProposed:
    return MatchProposed(
        match_id=match_id,
        client_id="client-1",
        intake_id="intake-1",
        candidates=[
            Candidate(
                therapist_id=t, rank=n, score=0.5, factors={}, reasons=[], session_format=SessionFormat.video
            )
            for n, t in enumerate(candidates, 1)
        ],
        expires_at=NOW + timedelta(hours=24),
        waitlisted=not candidates,
    )


@pytest.mark.parametrize(
    ("held", "arriving", "recorded"),
    [
        (None, FIRST, True),
        (FIRST, LATER, True),
        (FIRST, FIRST, False),  # the same intake again
        (LATER, FIRST, False),  # an older intake delivered late: the newer one stands
    ],
)
def test_which_intake_is_kept(held: Any, arriving: Any, recorded: bool) -> None:
    before = client(intake=held, current_match_id="m-held" if held else None)
    after = before.record_intake(arriving, "journey-1", match_id="m-new")
    assert (after != before) is recorded
    if recorded:
        assert after.intake == arriving and after.current_match_id == "m-new"
        assert after.replaced_match_id == before.current_match_id and after.correlation_id == "journey-1"


def test_a_new_intake_ends_the_exclusions_for_the_last_one_and_the_wait() -> None:
    before = client(
        intake=FIRST,
        excluded=(Exclusion("t-1", DECLINED), Exclusion("t-2", NO_SLOT), Exclusion("t-3", SWITCHED)),
        match_ids=("m-1",),
        current_match_id="m-1",
        wait=Wait("m-1", NOW),
    )
    after = before.record_intake(LATER, "journey-2", match_id="m-2")
    assert after.excluded_ids == {"t-1", "t-3"}
    assert after.match_ids == ("m-1", "m-2") and after.wait is None


@pytest.mark.parametrize(
    ("excluded", "adding", "after"),
    [
        ((), ["t-1", "t-1"], {"t-1"}),
        ((Exclusion("t-1", DECLINED),), ["t-1", "t-2"], {"t-1", "t-2"}),
    ],
)
def test_exclusions_are_kept_once(
    excluded: tuple[Exclusion, ...], adding: list[str], after: set[str]
) -> None:
    assert client(excluded=excluded).exclude(adding, DECLINED).excluded_ids == after


def test_excluding_nobody_new_changes_nothing() -> None:
    before = client(excluded=(Exclusion("t-1", DECLINED),))
    assert before.exclude(["t-1"], SWITCHED) is before


@pytest.mark.parametrize(
    ("current", "wait", "settling", "current_after", "wait_after"),
    [
        (None, None, proposed("m-1", "t-1"), "m-1", None),
        (None, None, proposed("m-1"), "m-1", Wait("m-1", NOW, 1)),  # empty: the client waits on it
        ("m-1", Wait("m-1", NOW - timedelta(days=1)), proposed("m-2", "t-1"), "m-2", None),  # matched at last
        (
            "m-1",
            Wait("m-1", NOW - timedelta(days=1)),
            proposed("m-1"),
            "m-1",
            Wait("m-1", NOW - timedelta(days=1)),
        ),
    ],
)
def test_a_proposal_is_linked_and_decides_the_wait_while_current(
    current: str | None,
    wait: Wait | None,
    settling: MatchProposed,
    current_after: str,
    wait_after: Wait | None,
) -> None:
    match_ids = (current,) if current else ()
    after = client(match_ids=match_ids, current_match_id=current, wait=wait).settle(settling, NOW, 1)
    assert after.current_match_id == current_after and settling.match_id in after.match_ids
    assert after.wait == wait_after


def test_an_older_proposal_settled_again_neither_becomes_current_nor_changes_the_wait() -> None:
    waiting = Wait("m-2", NOW)
    before = client(match_ids=("m-1", "m-2"), current_match_id="m-2", wait=waiting)
    after = before.settle(proposed("m-1", "t-1"), NOW, 1)
    assert after.current_match_id == "m-2" and after.wait == waiting
    assert set(after.care.proposed_at(NOW)) == {"t-1"}  # folded all the same


@pytest.mark.parametrize(
    ("in_care", "clearing_only_if", "after"),
    [
        ("t-1", "t-1", None),
        ("t-1", "t-2", "t-1"),  # moved on to another therapist meanwhile: left as is
        (None, "t-1", None),
    ],
)
def test_care_with_a_therapist_ends_only_while_the_client_is_with_them(
    in_care: str | None, clearing_only_if: str, after: str | None
) -> None:
    assert client(therapist_id=in_care).in_care_with(None, only_if=clearing_only_if).therapist_id == after


def test_leaving_the_waitlist_and_folding_events() -> None:
    waiting = client(wait=Wait("m-1", NOW))
    assert waiting.leave_waitlist().wait is None
    assert client().leave_waitlist() == client()
    folded = client().fold([(proposed("m-1", "t-1"), NOW)])
    assert folded.care.state_of("t-1", NOW) is CareState.proposed
    assert folded.fold([]) is folded


def test_a_waiting_client_is_listed_with_what_a_trigger_needs_to_know() -> None:
    waiting = client(intake=FIRST, wait=Wait("m-1", NOW)).waiting
    assert waiting is not None
    assert (waiting.match_id, waiting.since, waiting.jurisdiction, waiting.languages) == (
        "m-1",
        NOW,
        "US-CA",
        frozenset({"en"}),
    )
    assert client(intake=FIRST).waiting is None and client(wait=Wait("m-1", NOW)).waiting is None
