"""The care relationship: each transition of DESIGN §2, and what each state lets a therapist see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.care.relationship import Access, CareRelationships, CareState
from shared.events.common import Approach, Candidate, PlanStatus, SessionCadence
from shared.events.models import (
    MatchAccepted,
    MatchDeclined,
    MatchProposed,
    SessionAttendanceRecorded,
    SessionBooked,
    TreatmentPlanUpdated,
)

Attendance = SessionAttendanceRecorded
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CLIENT = "client-1"


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def proposed(match_id: str, *therapists: str, expires: datetime | None = None) -> MatchProposed:
    return MatchProposed(
        match_id=match_id,
        client_id=CLIENT,
        intake_id="intake-1",
        candidates=[Candidate(therapist_id=t, rank=n, score=0.5) for n, t in enumerate(therapists, 1)],
        expires_at=expires or at(24 * 60),
    )


def accepted(match_id: str, therapist: str, minutes: int) -> MatchAccepted:
    return MatchAccepted(match_id=match_id, client_id=CLIENT, therapist_id=therapist, accepted_at=at(minutes))


def declined(match_id: str, therapist: str | None, minutes: int) -> MatchDeclined:
    return MatchDeclined(match_id=match_id, client_id=CLIENT, therapist_id=therapist, declined_at=at(minutes))


def attended(
    therapist: str, attendance: str = "held", kind: str = "introduction"
) -> SessionAttendanceRecorded:
    return SessionAttendanceRecorded.model_validate(
        {
            "session_id": "s-1",
            "client_id": CLIENT,
            "therapist_id": therapist,
            "series_id": "ser-1",
            "sequence": 1,
            "kind": kind,
            "attendance": attendance,
            "starts_at": at(60),
            "recorded_at": at(120),
            "recorded_by": "clinician",
        }
    )


def plan(therapist: str, status: PlanStatus) -> TreatmentPlanUpdated:
    return TreatmentPlanUpdated(
        client_id=CLIENT,
        therapist_id=therapist,
        version=1,
        status=status,
        approach=Approach.cbt,
        session_cadence=SessionCadence.weekly,
        check_in_interval_days=14,
        updated_at=at(0),
    )


def booked(therapist: str, by: str, kind: str = "introduction") -> SessionBooked:
    return SessionBooked.model_validate(
        {
            "session_id": "s-1",
            "client_id": CLIENT,
            "therapist_id": therapist,
            "starts_at": at(3000),
            "ends_at": at(3050),
            "timezone": "UTC",
            "format": "video",
            "series_id": "ser-1",
            "sequence": 1,
            "join_url": "https://meet.example/r",
            "kind": kind,
            "booked_by": by,
            "match_id": "m-1",
        }
    )


def test_a_proposed_therapist_sees_the_referral_summary_only_until_the_proposal_expires() -> None:
    care = CareRelationships().apply(proposed("m-1", "a", "b", expires=at(60)), at(0))
    assert care.state_of("a", at(1)) is CareState.proposed
    assert care.access("a", at(59)) is Access.referral
    assert care.access("a", at(60)) is Access.none
    assert care.access("stranger", at(1)) is Access.none


def test_accepting_a_candidate_grants_the_record_and_withdraws_the_others() -> None:
    care = CareRelationships().apply(proposed("m-1", "a", "b"), at(0)).apply(accepted("m-1", "b", 5), at(5))
    assert care.access("b", at(6)) is Access.record
    assert care.state_of("a", at(6)) is CareState.withdrawn
    assert care.access("a", at(6)) is Access.none
    assert not care.may_write_plan("b")


def test_a_held_introduction_puts_the_client_in_care_and_only_then_the_therapist_writes_the_plan() -> None:
    care = CareRelationships().apply(proposed("m-1", "a"), at(0)).apply(accepted("m-1", "a", 5), at(5))
    care = care.apply(attended("a"), at(120))
    assert care.state_of("a", at(121)) is CareState.in_care
    assert care.may_write_plan("a")
    assert care.in_care_with == "a"


def test_a_no_show_does_not_start_care() -> None:
    care = CareRelationships().apply(proposed("m-1", "a"), at(0)).apply(accepted("m-1", "a", 5), at(5))
    care = care.apply(attended("a", "no_show"), at(120))
    assert care.state_of("a", at(121)) is CareState.chosen
    assert not care.may_write_plan("a")


def test_a_switch_ends_the_former_therapist_when_the_client_accepts_the_new_one() -> None:
    care = CareRelationships().apply(proposed("m-1", "a"), at(0)).apply(accepted("m-1", "a", 5), at(5))
    care = care.apply(attended("a"), at(120))
    care = care.apply(proposed("m-2", "b", "c"), at(200))
    assert care.state_of("a", at(201)) is CareState.in_care  # nothing changes until the client chooses
    care = care.apply(accepted("m-2", "c", 210), at(210))
    assert care.state_of("a", at(211)) is CareState.ended
    assert care.access("a", at(211)) is Access.none
    assert care.access("c", at(211)) is Access.record
    assert care.state_of("b", at(211)) is CareState.withdrawn


def test_declining_a_match_ends_care_with_its_therapist() -> None:
    care = CareRelationships().apply(proposed("m-1", "a"), at(0)).apply(accepted("m-1", "a", 5), at(5))
    care = care.apply(declined("m-1", None, 30), at(30))
    assert care.state_of("a", at(31)) is CareState.ended


def test_declining_a_switch_proposal_leaves_the_current_therapist_in_care() -> None:
    care = CareRelationships().apply(proposed("m-1", "a"), at(0)).apply(accepted("m-1", "a", 5), at(5))
    care = care.apply(attended("a"), at(120)).apply(proposed("m-2", "b"), at(200))
    care = care.apply(declined("m-2", None, 210), at(210))
    assert care.state_of("a", at(211)) is CareState.in_care
    assert care.state_of("b", at(211)) is CareState.withdrawn


def test_a_completed_plan_ends_care() -> None:
    care = CareRelationships().apply(accepted("m-1", "a", 5), at(5)).apply(attended("a"), at(120))
    care = care.apply(plan("a", PlanStatus.active), at(130)).apply(plan("a", PlanStatus.completed), at(400))
    assert care.state_of("a", at(401)) is CareState.ended
    assert care.access("a", at(401)) is Access.none


def test_a_client_booking_a_proposed_therapist_chooses_them_but_a_booking_made_for_them_does_not() -> None:
    care = CareRelationships().apply(proposed("m-1", "a", "b"), at(0))
    assert care.apply(booked("a", "system"), at(1)).access("a", at(2)) is Access.referral
    assert care.apply(booked("a", "admin"), at(1)).access("a", at(2)) is Access.referral
    assert care.apply(booked("a", "client"), at(1)).access("a", at(2)) is Access.record


def test_an_acceptance_delivered_after_the_decline_that_followed_it_grants_nothing() -> None:
    care = CareRelationships().apply(proposed("m-1", "a"), at(0))
    care = care.apply(declined("m-1", "a", 10), at(10)).apply(accepted("m-1", "a", 5), at(5))
    assert care.access("a", at(11)) is Access.none


def test_a_held_introduction_delivered_before_the_acceptance_still_counts() -> None:
    care = CareRelationships().apply(proposed("m-1", "a"), at(0))
    care = care.apply(attended("a"), at(120)).apply(accepted("m-1", "a", 5), at(5))
    assert care.state_of("a", at(121)) is CareState.in_care


def test_a_newer_proposal_withdraws_the_therapists_it_no_longer_names() -> None:
    care = (
        CareRelationships().apply(proposed("m-1", "a", "b"), at(0)).apply(proposed("m-2", "b", "c"), at(60))
    )
    assert care.state_of("a", at(61)) is CareState.withdrawn
    assert care.relationships and care.of("b") is not None and care.of("b").match_id == "m-2"  # type: ignore[union-attr]
    assert care.state_of("c", at(61)) is CareState.proposed


def test_applying_the_same_event_twice_changes_nothing_more() -> None:
    once = CareRelationships().apply(proposed("m-1", "a"), at(0)).apply(accepted("m-1", "a", 5), at(5))
    twice = once.apply(accepted("m-1", "a", 5), at(5)).apply(proposed("m-1", "a"), at(0))
    assert twice == once


def test_relationships_survive_their_document_form() -> None:
    care = CareRelationships().apply(proposed("m-1", "a", "b"), at(0)).apply(accepted("m-1", "a", 5), at(5))
    assert CareRelationships.from_document(care.to_document()) == care


def test_a_proposal_delivered_after_the_choice_it_led_to_proposes_nobody_again() -> None:
    care = CareRelationships().apply(accepted("m-1", "a", 5), at(5)).apply(proposed("m-1", "a", "b"), at(0))
    assert care.access("a", at(6)) is Access.record
    assert care.access("b", at(6)) is Access.none
