"""Matching's handlers and commands on the in-memory fakes: proposals, holds, caseload, outcomes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from services.matching.commands.accept_match import AcceptMatch, accept_match
from services.matching.commands.decline_match import DeclineMatch, decline_match
from services.matching.commands.put_therapist import PutTherapist, put_therapist
from services.matching.commands.switch_therapist import SwitchTherapist, switch_therapist
from services.matching.domain import filters
from services.matching.handlers.on_booking_failed import on_booking_failed
from services.matching.handlers.on_check_in_completed import on_check_in_completed
from services.matching.handlers.on_intake_completed import on_intake_completed
from services.matching.handlers.on_proposal_expiry_timer import on_proposal_expiry_timer
from services.matching.handlers.on_session_attendance_recorded import on_session_attendance_recorded
from services.matching.handlers.on_session_booked import on_session_booked
from services.matching.handlers.on_session_cancelled import on_session_cancelled
from services.matching.handlers.on_therapist_availability_changed import on_therapist_availability_changed
from services.matching.handlers.on_treatment_plan_updated import on_treatment_plan_updated
from services.matching.store.clients import care_of
from services.matching.store.proposals import proposal_of
from services.matching.timers import PROPOSAL_EXPIRY, proposal_expiry_id
from shared.care.relationship import CareRelationships, CareState
from shared.events.models import MatchProposed, TreatmentPlanUpdated
from shared.refusals import Conflict, Invalid, NotFound
from shared.storage.timers import Timer
from tests.unit.matching.builders import (
    NOW,
    Fakes,
    attended,
    availability_changed,
    booking_failed,
    check_in,
    delivered,
    intake,
    profile,
    session_booked,
    session_cancelled,
)


async def directory(fakes: Fakes, *specs: tuple[str, dict[str, Any]]) -> None:
    for therapist_id, overrides in specs:
        await put_therapist(PutTherapist(therapist_id, profile(**overrides)), fakes.matching)


async def propose(fakes: Fakes, **intake_fields: Any) -> MatchProposed:
    event, envelope = delivered(intake(**intake_fields))
    await on_intake_completed(fakes.matching)(event, envelope)
    proposed: MatchProposed = fakes.published("match-proposed")[-1]
    return proposed


def candidate_ids(proposal: MatchProposed) -> list[str]:
    return [c.therapist_id for c in proposal.candidates]


def holds_of(fakes: Fakes, therapist_id: str) -> list[str]:
    return [h["match_id"] for h in fakes.therapists.documents[therapist_id]["holds"]]


def caseload_of(fakes: Fakes, therapist_id: str) -> list[str]:
    return [c["client_id"] for c in fakes.therapists.documents[therapist_id]["caseload"]]


FOUR: tuple[tuple[str, dict[str, Any]], ...] = (
    ("t-best", {"specialties": [{"concern": "anxiety", "years": 12}, {"concern": "depression", "years": 9}]}),
    ("t-good", {}),
    ("t-fair", {"specialties": [{"concern": "anxiety", "years": 1}]}),
    ("t-poor", {"specialties": [], "approaches": ["solution_focused"]}),
)


async def test_an_intake_yields_one_proposal_best_first_with_what_scheduling_needs() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR, ("t-elsewhere", {"licensed_jurisdictions": ["US-NY"]}))
    proposal = await propose(fakes)
    assert candidate_ids(proposal) == ["t-best", "t-good", "t-fair"]
    assert [c.rank for c in proposal.candidates] == [1, 2, 3]
    assert proposal.candidates[0].score >= proposal.candidates[1].score >= proposal.candidates[2].score
    assert proposal.timezone == "America/Los_Angeles" and proposal.availability
    assert proposal.session_format.value == "video" and proposal.risk_level.value == "none"
    assert proposal.expires_at == NOW + timedelta(hours=24)
    assert all(c.factors and c.reasons and c.session_format for c in proposal.candidates)


async def test_a_proposal_holds_its_candidates_capacity_and_schedules_its_expiry() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    proposal = await propose(fakes)
    for therapist_id in candidate_ids(proposal):
        assert holds_of(fakes, therapist_id) == [proposal.match_id]
    assert holds_of(fakes, "t-poor") == []
    timer = fakes.timers.pending()[proposal_expiry_id(proposal.match_id)]
    assert timer.kind == PROPOSAL_EXPIRY and timer.due_at == proposal.expires_at
    assert fakes.clients.documents["client-1"]["current_match_id"] == proposal.match_id


async def test_a_redelivered_intake_yields_no_second_proposal() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    event, envelope = delivered(intake())
    handle = on_intake_completed(fakes.matching)
    await handle(event, envelope)
    await handle(event, envelope)
    assert len(fakes.published("match-proposed")) == 1


async def test_the_same_intake_under_another_event_id_yields_no_second_proposal() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    await propose(fakes)
    await propose(fakes)  # a fresh envelope, same intake id
    assert len(fakes.published("match-proposed")) == 1
    assert len(fakes.proposals.documents) == 1


async def test_a_new_intake_supersedes_the_open_proposal_and_releases_its_holds() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    second = await propose(fakes, intake_id="intake-2", submitted_at=(NOW + timedelta(days=1)).isoformat())
    assert fakes.proposals.documents[first.match_id]["status"] == "superseded"
    for therapist_id in candidate_ids(second):
        assert holds_of(fakes, therapist_id) == [second.match_id]


async def test_an_older_intake_delivered_late_proposes_nothing() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    await propose(fakes, intake_id="intake-2", submitted_at=(NOW + timedelta(days=1)).isoformat())
    await propose(fakes, intake_id="intake-1")
    assert len(fakes.published("match-proposed")) == 1


async def test_with_nobody_eligible_the_proposal_is_empty_names_why_and_alerts_an_operator() -> None:
    fakes = Fakes()
    await directory(fakes, ("t-1", {"high_acuity": False}), ("t-2", {"high_acuity": False}))
    with capture_logs() as logs:
        proposal = await propose(fakes, risk_level="high")
    assert proposal.candidates == []
    assert proposal.reasons == [filters.NOT_HIGH_ACUITY]
    alerts = [line for line in logs if line.get("alert") == "matching_no_candidates"]
    assert (
        alerts and alerts[0]["client_id"] == "client-1" and alerts[0]["reasons"] == [filters.NOT_HIGH_ACUITY]
    )


async def test_a_therapist_at_capacity_counting_holds_is_never_proposed() -> None:
    fakes = Fakes(top_k=1)
    await directory(fakes, ("t-only", {"capacity": 1}))
    first = await propose(fakes, client_id="client-1", intake_id="intake-1")
    second = await propose(fakes, client_id="client-2", intake_id="intake-2")
    assert candidate_ids(first) == ["t-only"]
    assert second.candidates == [] and second.reasons == [filters.AT_CAPACITY]


async def test_declining_a_proposal_yields_a_new_one_without_the_declined_therapists() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR, ("t-fifth", {"specialties": [{"concern": "stress", "years": 2}]}))
    first = await propose(fakes)
    result = await decline_match(DeclineMatch(first.match_id), fakes.matching)
    declined = fakes.published("match-declined")
    assert len(declined) == 1 and declined[0].match_id == first.match_id and declined[0].therapist_id is None
    assert result.declined["status"] == "declined"
    assert result.proposal is not None
    again = fakes.published("match-proposed")[-1]
    assert again.match_id == result.proposal["_id"] == result.declined["successor"]
    assert set(candidate_ids(again)) == {"t-poor", "t-fifth"}
    for therapist_id in candidate_ids(first):
        assert first.match_id not in holds_of(fakes, therapist_id)


async def test_declining_one_therapist_excludes_only_them() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    await decline_match(DeclineMatch(first.match_id, therapist_id="t-best"), fakes.matching)
    again = fakes.published("match-proposed")[-1]
    assert candidate_ids(again) == ["t-good", "t-fair", "t-poor"]
    assert fakes.published("match-declined")[0].therapist_id == "t-best"


async def test_declining_the_same_way_twice_changes_nothing_more() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    once = await decline_match(DeclineMatch(first.match_id, therapist_id="t-best"), fakes.matching)
    twice = await decline_match(DeclineMatch(first.match_id, therapist_id="t-best"), fakes.matching)
    assert once.proposal is not None and twice.proposal is not None
    assert once.proposal["_id"] == twice.proposal["_id"]
    assert len(fakes.published("match-declined")) == 1
    assert len(fakes.published("match-proposed")) == 2


async def test_declining_a_therapist_who_was_not_proposed_is_refused_naming_the_field() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    with pytest.raises(Invalid) as refused:
        await decline_match(DeclineMatch(first.match_id, therapist_id="t-poor"), fakes.matching)
    assert [problem.field for problem in refused.value.errors] == ["body.therapist_id"]
    with pytest.raises(NotFound):
        await decline_match(DeclineMatch("no-such-match"), fakes.matching)


async def test_accepting_releases_the_others_holds_and_keeps_the_chosen_one() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    fakes.clock.advance(timedelta(hours=20))
    accepted = await accept_match(AcceptMatch(first.match_id, therapist_id="t-good"), fakes.matching)
    assert accepted["status"] == "accepted" and accepted["accepted_therapist_id"] == "t-good"
    assert [e.therapist_id for e in fakes.published("match-accepted")] == ["t-good"]
    assert holds_of(fakes, "t-best") == [] and holds_of(fakes, "t-fair") == []
    (kept,) = fakes.therapists.documents["t-good"]["holds"]
    assert kept["expires_at"] == fakes.clock.now + timedelta(hours=24)
    assert (await accept_match(AcceptMatch(first.match_id, therapist_id="t-good"), fakes.matching))[
        "_id"
    ] == first.match_id
    with pytest.raises(Conflict):
        await accept_match(AcceptMatch(first.match_id, therapist_id="t-best"), fakes.matching)
    assert len(fakes.published("match-accepted")) == 1


async def test_a_first_session_booked_starts_care_and_releases_every_hold_once() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    event, envelope = delivered(session_booked("t-good", match_id=first.match_id))
    handle = on_session_booked(fakes.matching)
    await handle(event, envelope)
    await handle(event, envelope)
    assert caseload_of(fakes, "t-good") == ["client-1"]
    assert all(holds_of(fakes, t) == [] for t in candidate_ids(first))
    proposal = fakes.proposals.documents[first.match_id]
    assert proposal["status"] == "booked" and proposal["booked_therapist_id"] == "t-good"
    assert fakes.clients.documents["client-1"]["therapist_id"] == "t-good"


async def test_later_sessions_do_not_count_the_client_again() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    for sequence in (1, 2, 3):
        event, envelope = delivered(session_booked("t-good", match_id=first.match_id, sequence=sequence))
        await on_session_booked(fakes.matching)(event, envelope)
    assert caseload_of(fakes, "t-good") == ["client-1"]


async def test_a_cancelled_first_session_takes_the_client_out_of_the_caseload() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    await on_session_booked(fakes.matching)(*delivered(session_booked("t-good", match_id=first.match_id)))
    await on_session_cancelled(fakes.matching)(*delivered(session_cancelled("t-good", sequence=2)))
    assert caseload_of(fakes, "t-good") == ["client-1"]
    await on_session_cancelled(fakes.matching)(*delivered(session_cancelled("t-good", sequence=1)))
    assert caseload_of(fakes, "t-good") == []
    assert fakes.clients.documents["client-1"]["therapist_id"] is None


async def test_a_completed_treatment_plan_frees_the_therapists_place() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    await on_session_booked(fakes.matching)(*delivered(session_booked("t-good", match_id=first.match_id)))
    plan = TreatmentPlanUpdated.model_validate(
        {
            "client_id": "client-1",
            "therapist_id": "t-good",
            "version": 3,
            "status": "completed",
            "approach": "cbt",
            "session_cadence": "weekly",
            "check_in_interval_days": 14,
            "updated_at": NOW,
        }
    )
    await on_treatment_plan_updated(fakes.matching)(*delivered(plan))
    assert caseload_of(fakes, "t-good") == []


async def test_a_failed_booking_proposes_again_without_who_had_no_slot() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    event, envelope = delivered(booking_failed(first.match_id, tried=["t-best", "t-good"]))
    handle = on_booking_failed(fakes.matching)
    await handle(event, envelope)
    await handle(event, envelope)
    proposals = fakes.published("match-proposed")
    assert len(proposals) == 2
    assert candidate_ids(proposals[-1]) == ["t-fair", "t-poor"]
    assert fakes.proposals.documents[first.match_id]["status"] == "failed"
    assert holds_of(fakes, "t-best") == []


async def test_a_failed_booking_without_tried_therapists_excludes_every_candidate() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    await on_booking_failed(fakes.matching)(*delivered(booking_failed(first.match_id)))
    assert candidate_ids(fakes.published("match-proposed")[-1]) == ["t-poor"]


async def test_a_failed_booking_of_an_empty_proposal_is_not_proposed_again() -> None:
    fakes = Fakes()
    first = await propose(fakes)
    assert first.candidates == []
    await on_booking_failed(fakes.matching)(*delivered(booking_failed(first.match_id)))
    assert len(fakes.published("match-proposed")) == 1


async def test_proposals_stop_at_the_limit_per_intake() -> None:
    fakes = Fakes(top_k=1, max_proposals_per_intake=2)
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    await on_booking_failed(fakes.matching)(*delivered(booking_failed(first.match_id)))
    second = fakes.published("match-proposed")[-1]
    with capture_logs() as logs:
        await on_booking_failed(fakes.matching)(*delivered(booking_failed(second.match_id)))
    assert len(fakes.published("match-proposed")) == 2
    assert any(line.get("alert") == "matching_proposals_exhausted" for line in logs)


async def test_switching_therapist_proposes_others_and_moves_the_caseload_once_booked() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    await on_session_booked(fakes.matching)(*delivered(session_booked("t-best", match_id=first.match_id)))
    new = await switch_therapist(SwitchTherapist("client-1"), fakes.matching)
    assert new is not None and new["origin"] == "switch" and new["predecessor"] == first.match_id
    switch_proposal = fakes.published("match-proposed")[-1]
    assert "t-best" not in candidate_ids(switch_proposal)
    assert caseload_of(fakes, "t-best") == ["client-1"]  # still in care until the switch takes effect
    again = await switch_therapist(SwitchTherapist("client-1"), fakes.matching)
    assert again is not None and again["_id"] == new["_id"]
    assert len(fakes.published("match-proposed")) == 2
    await accept_match(AcceptMatch(new["_id"], therapist_id="t-good"), fakes.matching)
    booked = session_booked("t-good", match_id=new["_id"])
    await on_session_booked(fakes.matching)(*delivered(booked))
    assert caseload_of(fakes, "t-best") == [] and caseload_of(fakes, "t-good") == ["client-1"]
    assert fakes.published("match-declined") == []


async def test_accepting_another_candidate_of_a_booked_proposal_needs_room_with_them() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    await on_session_booked(fakes.matching)(*delivered(session_booked("t-best", match_id=first.match_id)))
    fakes.therapists.documents["t-fair"]["profile"]["capacity"] = 0
    await fakes.matching.directory.current()
    with pytest.raises(Conflict):
        await accept_match(AcceptMatch(first.match_id, therapist_id="t-fair"), fakes.matching)
    moved = await accept_match(AcceptMatch(first.match_id, therapist_id="t-good"), fakes.matching)
    assert moved["status"] == "booked" and moved["accepted_therapist_id"] == "t-good"
    assert holds_of(fakes, "t-good") == [first.match_id]


async def test_switching_without_therapist_or_proposal_is_a_conflict() -> None:
    fakes = Fakes()
    with pytest.raises(NotFound):
        await switch_therapist(SwitchTherapist("client-unknown"), fakes.matching)


def expiry_of(proposal: MatchProposed) -> Timer:
    return Timer(
        proposal_expiry_id(proposal.match_id),
        PROPOSAL_EXPIRY,
        proposal.expires_at,
        1,
        {"match_id": proposal.match_id},
    )


async def test_an_unanswered_proposal_expires_gives_its_holds_back_and_is_proposed_again() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    fakes.clock.advance(timedelta(hours=24))
    assert await on_proposal_expiry_timer(fakes.matching)(expiry_of(first)) == []
    expired = fakes.proposals.documents[first.match_id]
    again = fakes.published("match-proposed")[-1]
    assert expired["status"] == "expired" and expired["successor"] == again.match_id
    assert again.origin == "expired" and again.predecessor_match_id == first.match_id
    assert candidate_ids(again) == candidate_ids(first)  # unanswered is not declined
    assert all(holds_of(fakes, t) == [again.match_id] for t in candidate_ids(first))
    assert again.expires_at == fakes.clock.now + timedelta(hours=24)
    assert proposal_expiry_id(again.match_id) in fakes.timers.pending()
    assert fakes.clients.documents["client-1"]["current_match_id"] == again.match_id


async def test_an_expiry_fired_twice_proposes_again_once() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    fakes.clock.advance(timedelta(hours=24))
    await on_proposal_expiry_timer(fakes.matching)(expiry_of(first))
    await on_proposal_expiry_timer(fakes.matching)(expiry_of(first))
    assert len(fakes.published("match-proposed")) == 2


async def test_an_expired_proposal_is_proposed_again_without_the_therapists_the_client_declined() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    await decline_match(DeclineMatch(first.match_id, therapist_id="t-best"), fakes.matching)
    second = fakes.published("match-proposed")[-1]
    fakes.clock.advance(timedelta(hours=24))
    await on_proposal_expiry_timer(fakes.matching)(expiry_of(second))
    third = fakes.published("match-proposed")[-1]
    assert third.origin == "expired" and third.predecessor_match_id == second.match_id
    assert "t-best" not in candidate_ids(third)


async def test_an_answered_proposal_does_not_expire() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    await accept_match(AcceptMatch(first.match_id, therapist_id="t-good"), fakes.matching)
    fakes.clock.advance(timedelta(hours=24))
    await on_proposal_expiry_timer(fakes.matching)(expiry_of(first))
    assert fakes.proposals.documents[first.match_id]["status"] == "accepted"
    assert len(fakes.published("match-proposed")) == 1


async def test_expiries_stop_at_the_limit_per_intake_with_an_operator_alert() -> None:
    fakes = Fakes(max_proposals_per_intake=2)
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    fakes.clock.advance(timedelta(hours=24))
    await on_proposal_expiry_timer(fakes.matching)(expiry_of(first))
    second = fakes.published("match-proposed")[-1]
    fakes.clock.advance(timedelta(hours=24))
    with capture_logs() as logs:
        await on_proposal_expiry_timer(fakes.matching)(expiry_of(second))
    assert len(fakes.published("match-proposed")) == 2
    assert fakes.proposals.documents[second.match_id]["status"] == "expired"
    assert fakes.proposals.documents[second.match_id]["successor"] is None
    assert any(line.get("alert") == "matching_proposals_exhausted" for line in logs)
    assert all(holds_of(fakes, t) == [] for t in candidate_ids(second))


async def test_an_empty_proposal_has_no_expiry_and_never_expires_into_another() -> None:
    fakes = Fakes()
    empty = await propose(fakes)
    assert empty.candidates == [] and empty.waitlisted
    assert proposal_expiry_id(empty.match_id) not in fakes.timers.timers
    fakes.clock.advance(timedelta(hours=24))
    await on_proposal_expiry_timer(fakes.matching)(expiry_of(empty))  # as if a timer had been left over
    assert len(fakes.published("match-proposed")) == 1
    assert fakes.proposals.documents[empty.match_id]["status"] == "proposed"


async def test_every_proposal_says_why_it_was_made_and_what_it_follows() -> None:
    fakes = Fakes(top_k=1)
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    assert (first.origin, first.predecessor_match_id, first.waitlisted) == ("intake", None, False)
    declined = await decline_match(DeclineMatch(first.match_id), fakes.matching)
    assert declined.proposal is not None
    await on_booking_failed(fakes.matching)(*delivered(booking_failed(declined.proposal["_id"])))
    failed = fakes.published("match-proposed")[-1]
    await on_session_booked(fakes.matching)(*delivered(session_booked("t-fair", match_id=failed.match_id)))
    switched = await switch_therapist(SwitchTherapist("client-1"), fakes.matching)
    assert switched is not None
    fakes.clock.advance(timedelta(hours=24))
    await on_proposal_expiry_timer(fakes.matching)(expiry_of(fakes.published("match-proposed")[-1]))
    newer = await propose(fakes, intake_id="intake-2", submitted_at=(NOW + timedelta(days=2)).isoformat())
    trail = [(p.origin, p.predecessor_match_id) for p in fakes.published("match-proposed")]
    ids = [p.match_id for p in fakes.published("match-proposed")]
    assert trail == [
        ("intake", None),
        ("decline", ids[0]),
        ("booking_failed", ids[1]),
        ("switch", ids[2]),
        ("expired", ids[3]),
        ("intake", ids[4]),
    ]
    assert newer.match_id == ids[5]


async def test_outcome_records_move_the_ranking_toward_the_effective_therapist() -> None:
    fakes = Fakes(top_k=2)
    await directory(fakes, ("t-a", {}), ("t-b", {}))
    before = await propose(fakes, client_id="client-0", intake_id="intake-0")
    assert candidate_ids(before) == ["t-a", "t-b"]  # equal profiles: the id breaks the tie
    record = on_check_in_completed(fakes.matching)
    for number in range(8):
        await record(*delivered(check_in("t-b", client_id=f"past-{number}", improved=True)))
        await record(*delivered(check_in("t-a", client_id=f"past-{number}", deteriorated=True)))
    after = await propose(fakes, client_id="client-9", intake_id="intake-9")
    assert candidate_ids(after) == ["t-b", "t-a"]
    assert after.candidates[0].factors["outcomes"] > after.candidates[1].factors["outcomes"]


async def test_a_check_in_without_concerns_uses_the_clients_intake_concerns() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    await propose(fakes)
    await on_check_in_completed(fakes.matching)(
        *delivered(check_in("t-best", client_id="client-1", concerns=[]))
    )
    assert set(fakes.outcomes.documents) == {"t-best:anxiety", "t-best:depression"}


async def test_availability_feeds_the_read_model_and_an_older_change_never_wins() -> None:
    fakes = Fakes()
    await directory(fakes, ("t-1", {}))
    handle = on_therapist_availability_changed(fakes.matching)
    await handle(*delivered(availability_changed("t-1")))
    await handle(*delivered(availability_changed("t-1", weekly=[], changed_at=NOW - timedelta(days=1))))
    index = await fakes.matching.directory.current()
    held = index.get("t-1")
    assert held is not None and held.availability is not None and len(held.availability.windows) == 5


async def test_availability_of_a_therapist_not_yet_in_the_directory_waits_for_their_profile() -> None:
    fakes = Fakes()
    await on_therapist_availability_changed(fakes.matching)(*delivered(availability_changed("t-later")))
    assert (await fakes.matching.directory.current()).get("t-later") is None
    await directory(fakes, ("t-later", {}))
    later = (await fakes.matching.directory.current()).get("t-later")
    assert later is not None and later.availability is not None


async def test_another_replica_sees_holds_through_the_journal() -> None:
    fakes = Fakes(top_k=1)
    other = fakes.replica("replica-2", top_k=1)
    await directory(fakes, ("t-only", {"capacity": 1}))
    assert (await other.directory.current()).get("t-only") is not None  # loaded before the hold
    await propose(fakes)
    seen = (await other.directory.current()).get("t-only")
    assert seen is not None and seen.live_holds(NOW) == 1


async def test_a_replica_that_missed_a_hold_is_refused_by_the_lease_and_never_oversubscribes() -> None:
    fakes = Fakes(top_k=1)
    other = fakes.replica("replica-2", top_k=1)
    await directory(fakes, ("t-only", {"capacity": 1}), ("t-spare", {"specialties": []}))
    await other.directory.current()
    await propose(fakes)
    fakes.journal.documents.clear()  # as if the journal entry were lost in a crash
    other_view = other.directory.index.get("t-only")
    assert other_view is not None and other_view.live_holds(NOW) == 0
    event, envelope = delivered(intake(client_id="client-2", intake_id="intake-2"))
    await on_intake_completed(other)(event, envelope)
    assert candidate_ids(fakes.published("match-proposed")[-1]) == ["t-spare"]
    assert len(fakes.therapists.documents["t-only"]["holds"]) == 1


async def test_the_clients_intake_is_stored_before_their_proposal_is() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    seen: list[bool] = []
    insert = fakes.proposals.insert

    async def noting(document: Any, events: Any = (), *, cause: Any = None) -> bool:
        client = await fakes.clients.get(document["client_id"])
        seen.append(bool(client and client.get("intake") and client["current_match_id"] == document["_id"]))
        return await insert(document, events, cause=cause)

    fakes.proposals.insert = noting  # type: ignore[method-assign]
    await propose(fakes)
    assert seen == [True]


def care(fakes: Fakes, client_id: str = "client-1") -> CareRelationships:
    return care_of(fakes.clients.documents[client_id])


async def test_a_clients_own_booking_of_a_proposed_therapist_accepts_the_match_once() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    booked = session_booked("t-good", match_id=first.match_id, booked_by="client", kind="introduction")
    event, envelope = delivered(booked)
    handle = on_session_booked(fakes.matching)
    for _ in range(3):
        await handle(event, envelope)
    (accepted,) = fakes.published("match-accepted")
    assert (accepted.match_id, accepted.therapist_id) == (first.match_id, "t-good")
    (outgoing,) = [e for e in fakes.events if e.spec.name == "match-accepted"]
    assert outgoing.envelope.causation_id == envelope.id  # derived from the session-booked
    proposal = fakes.proposals.documents[first.match_id]
    assert proposal["status"] == "booked" and proposal["accepted_therapist_id"] == "t-good"
    assert caseload_of(fakes, "t-good") == ["client-1"]
    assert all(holds_of(fakes, t) == [] for t in candidate_ids(first))
    assert care(fakes).state_of("t-good", NOW) is CareState.chosen
    assert care(fakes).state_of("t-best", NOW) is CareState.withdrawn
    with pytest.raises(Conflict):  # accepted: another candidate needs a decline first
        await accept_match(AcceptMatch(first.match_id, therapist_id="t-best"), fakes.matching)


async def test_the_same_booking_under_another_event_id_accepts_nothing_more() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    booked = session_booked("t-good", match_id=first.match_id, booked_by="client", kind="introduction")
    await on_session_booked(fakes.matching)(*delivered(booked))
    await on_session_booked(fakes.matching)(*delivered(booked))  # a fresh envelope
    assert len(fakes.published("match-accepted")) == 1


async def test_a_booking_at_once_by_the_system_books_and_counts_the_caseload_but_accepts_nothing() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    booked = session_booked("t-best", match_id=first.match_id, booked_by="system", kind="introduction")
    await on_session_booked(fakes.matching)(*delivered(booked))
    proposal = fakes.proposals.documents[first.match_id]
    assert proposal["status"] == "booked" and proposal.get("accepted_therapist_id") is None
    assert caseload_of(fakes, "t-best") == ["client-1"]
    assert fakes.published("match-accepted") == []
    assert care(fakes).state_of("t-best", NOW) is CareState.proposed  # no record before the client chose


async def test_a_booking_that_is_no_choice_from_an_open_proposal_accepts_nothing() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    cases = [
        session_booked(
            "t-poor", match_id=first.match_id, booked_by="client", kind="introduction"
        ),  # not proposed
        session_booked("t-good", match_id=first.match_id, booked_by="client", kind="therapy"),
        session_booked("t-good", match_id=first.match_id, booked_by="admin", kind="introduction"),
        session_booked("t-good", match_id=None, booked_by="client", kind="introduction"),  # names no proposal
    ]
    for booked in cases:
        proposal = fakes.proposals.documents[first.match_id]
        assert not proposal_of(proposal).chosen_by_booking(booked)
    await accept_match(AcceptMatch(first.match_id, therapist_id="t-best"), fakes.matching)
    again = session_booked("t-good", match_id=first.match_id, booked_by="client", kind="introduction")
    assert not proposal_of(fakes.proposals.documents[first.match_id]).chosen_by_booking(
        again
    )  # accepted already
    await on_session_booked(fakes.matching)(*delivered(cases[0]))
    assert [e.therapist_id for e in fakes.published("match-accepted")] == ["t-best"]


async def test_the_clients_care_relationships_follow_proposal_choice_care_and_its_end() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    assert set(care(fakes).proposed_at(NOW)) == set(candidate_ids(first))
    await accept_match(AcceptMatch(first.match_id, therapist_id="t-good"), fakes.matching)
    assert care(fakes).state_of("t-good", NOW) is CareState.chosen
    await on_session_booked(fakes.matching)(*delivered(session_booked("t-good", match_id=first.match_id)))
    fakes.clock.advance(timedelta(days=2))
    attendance = on_session_attendance_recorded(fakes.matching)
    await attendance(*delivered(attended("t-good", match_id=first.match_id, attendance="no_show")))
    assert care(fakes).state_of("t-good", fakes.clock.now) is CareState.chosen
    held, envelope = delivered(attended("t-good", match_id=first.match_id))
    envelope = replace(envelope, id="held-1", time=NOW + timedelta(days=2, hours=1))
    await attendance(held, envelope)
    assert care(fakes).in_care_with == "t-good"
    plan = TreatmentPlanUpdated.model_validate(
        {
            "client_id": "client-1",
            "therapist_id": "t-good",
            "version": 4,
            "status": "completed",
            "approach": "cbt",
            "session_cadence": "weekly",
            "check_in_interval_days": 14,
            "updated_at": NOW,
        }
    )
    ended, envelope = delivered(plan)
    await on_treatment_plan_updated(fakes.matching)(ended, replace(envelope, time=NOW + timedelta(days=30)))
    assert care(fakes).state_of("t-good", NOW + timedelta(days=31)) is CareState.ended


async def test_declining_the_chosen_therapist_ends_care_and_frees_their_place() -> None:
    fakes = Fakes()
    await directory(fakes, *FOUR)
    first = await propose(fakes)
    await accept_match(AcceptMatch(first.match_id, therapist_id="t-good"), fakes.matching)
    await on_session_booked(fakes.matching)(*delivered(session_booked("t-good", match_id=first.match_id)))
    fakes.clock.advance(timedelta(hours=1))
    await decline_match(DeclineMatch(first.match_id, therapist_id="t-good"), fakes.matching)
    assert care(fakes).state_of("t-good", fakes.clock.now) is CareState.ended
    assert caseload_of(fakes, "t-good") == []
    assert fakes.clients.documents["client-1"]["therapist_id"] is None
