"""Events for the notifications tests, carrying recognisable clinical values.

Scores, bands, concerns, reasons and approaches are chosen so that a test can search
every rendered message for them: none may ever appear (`test_no_clinical_content.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.events.common import (
    Approach,
    Candidate,
    Concern,
    Gad7Summary,
    OutcomeChange,
    Phq9Summary,
    PlanStatus,
    Preferences,
    RiskLevel,
    SessionCadence,
    SessionFormat,
    Weekday,
    WeeklyWindow,
)
from shared.events.models import (
    BookingFailed,
    CheckInCompleted,
    CheckInDue,
    CheckInMissed,
    IntakeCompleted,
    MatchAccepted,
    MatchDeclined,
    MatchProposed,
    RiskFlagged,
    SessionAttendanceRecorded,
    SessionBooked,
    SessionCancelled,
    SessionRescheduled,
    TreatmentPlanUpdated,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STARTS = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 10:00 or 11:00 in New York, never 19 or 13
JOIN_URL = "https://meet.carepath.example/s/abc123?k=1&t=2"

# Recognisable values no message may show.
PHQ9 = Phq9Summary(total=19, severity="moderately_severe", item9=2)
GAD7 = Gad7Summary(total=17, severity="severe")
CONCERNS = [Concern.disordered_eating, Concern.ptsd, Concern.substance_use]
RISK_REASONS = ["cssrs_q5_plan_with_intent", "phq9_item9_positive"]
REVIEW_REASONS = ["phq9_reliable_deterioration", "goal_stalled_sleep_hygiene"]
GOALS = ["reduce_purging_episodes", "sobriety_90_days"]
FORBIDDEN_NUMBERS = ["19", "17", "7"]
"""PHQ-9 and GAD-7 totals and the PHQ-9 delta: never shown as a number on its own."""
FORBIDDEN = [
    "moderately_severe",
    "moderately severe",
    "severe",
    "disordered",
    "eating",
    "ptsd",
    "substance",
    "cssrs",
    "item9",
    "phq",
    "gad",
    "plan_with_intent",
    "deterioration",
    "deterioro",
    "sleep_hygiene",
    "purging",
    "sobriety",
    "psychodynamic",
    "high",
    "alto",
    "diagnos",
    "score",
    "puntuación",
]
"""Lower-case fragments of the values above (and words for them) that no rendered message contains."""


def intake_completed(client_id: str = "client-1") -> IntakeCompleted:
    return IntakeCompleted(
        intake_id="intake-1",
        client_id=client_id,
        submitted_at=NOW,
        jurisdiction="US-NY",
        timezone="America/New_York",
        languages=["en"],
        concerns=CONCERNS,
        goals=GOALS,
        phq9=PHQ9,
        gad7=GAD7,
        risk_level=RiskLevel.high,
        preferences=Preferences(approach=Approach.psychodynamic),
        availability=[WeeklyWindow(day=Weekday.tue, start="09:00", end="12:00")],
    )


def risk_flagged(
    client_id: str = "client-1",
    therapist_id: str | None = None,
    *,
    jurisdiction: str | None = "US-NY",
    language: str | None = None,
) -> RiskFlagged:
    return RiskFlagged(
        intake_id="intake-1",
        client_id=client_id,
        therapist_id=therapist_id,
        risk_level=RiskLevel.high,
        reasons=RISK_REASONS,
        flagged_at=NOW,
        jurisdiction=jurisdiction,
        language=language,
    )


def match_proposed(
    client_id: str = "client-1",
    candidates: int = 2,
    *,
    origin: str | None = None,
    waitlisted: bool = False,
    match_id: str = "match-1",
) -> MatchProposed:
    return MatchProposed(
        match_id=match_id,
        client_id=client_id,
        intake_id="intake-1",
        candidates=[
            Candidate(therapist_id=f"therapist-{n}", rank=n, score=0.87, reasons=["treats_ptsd"])
            for n in range(1, candidates + 1)
        ],
        reasons=[] if candidates else ["no_licensed_therapist_in_jurisdiction"],
        expires_at=NOW + timedelta(days=2),
        timezone="America/New_York",
        risk_level=RiskLevel.high,
        origin=origin,
        predecessor_match_id="match-0" if origin == "expired" else None,
        waitlisted=waitlisted,
    )


def match_accepted(client_id: str = "client-1") -> MatchAccepted:
    return MatchAccepted(match_id="match-1", client_id=client_id, therapist_id="therapist-1", accepted_at=NOW)


def match_declined(client_id: str = "client-1") -> MatchDeclined:
    return MatchDeclined(match_id="match-1", client_id=client_id, reason="client_declined", declined_at=NOW)


def booking_failed(client_id: str = "client-1") -> BookingFailed:
    return BookingFailed(
        match_id="match-1", client_id=client_id, reason="no_slot_in_availability", failed_at=NOW
    )


def session_booked(
    client_id: str = "client-1",
    therapist_id: str = "therapist-1",
    *,
    session_id: str = "session-1",
    starts_at: datetime = STARTS,
    **changes: Any,
) -> SessionBooked:
    return SessionBooked(
        **{
            "session_id": session_id,
            "client_id": client_id,
            "therapist_id": therapist_id,
            "starts_at": starts_at,
            "ends_at": starts_at + timedelta(minutes=50),
            "timezone": "America/New_York",
            "format": SessionFormat.video,
            "series_id": "series-1",
            "sequence": 1,
            "join_url": JOIN_URL,
            "kind": "introduction",
            **changes,
        }
    )


def session_rescheduled(
    client_id: str = "client-1",
    therapist_id: str = "therapist-1",
    *,
    session_id: str = "session-1",
    previous: datetime = STARTS,
    starts_at: datetime = STARTS + timedelta(days=2),
) -> SessionRescheduled:
    return SessionRescheduled(
        session_id=session_id,
        client_id=client_id,
        therapist_id=therapist_id,
        series_id="series-1",
        sequence=1,
        previous_starts_at=previous,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=50),
        timezone="America/New_York",
        format=SessionFormat.video,
        rescheduled_by="client",
    )


def session_cancelled(
    client_id: str = "client-1", therapist_id: str = "therapist-1", *, session_id: str = "session-1"
) -> SessionCancelled:
    return SessionCancelled(
        session_id=session_id,
        client_id=client_id,
        therapist_id=therapist_id,
        series_id="series-1",
        sequence=1,
        starts_at=STARTS,
        cancelled_at=NOW,
        status="late_cancelled",
        cancelled_by="clinician",
        reason="therapist_unwell",
    )


def session_attendance_recorded(
    client_id: str = "client-1",
    therapist_id: str = "therapist-1",
    *,
    session_id: str = "session-1",
    attendance: str = "no_show",
    kind: str = "introduction",
    offered_slots: tuple[datetime, ...] = (STARTS + timedelta(days=2), STARTS + timedelta(days=1)),
) -> SessionAttendanceRecorded:
    return SessionAttendanceRecorded.model_validate(
        {
            "session_id": session_id,
            "client_id": client_id,
            "therapist_id": therapist_id,
            "series_id": "series-1",
            "sequence": 1,
            "kind": kind,
            "attendance": attendance,
            "starts_at": STARTS,
            "recorded_at": STARTS + timedelta(hours=1),
            "recorded_by": "clinician",
            "match_id": "match-1",
            "offered_slots": list(offered_slots) if attendance == "no_show" else [],
        }
    )


def check_in_due(
    client_id: str = "client-1", *, check_in_id: str = "checkin-1", due_at: datetime = NOW + timedelta(days=3)
) -> CheckInDue:
    return CheckInDue(
        check_in_id=check_in_id,
        client_id=client_id,
        therapist_id="therapist-1",
        due_at=due_at,
        instruments=["phq9", "gad7", "cssrs"],
    )


def check_in_missed(
    client_id: str = "client-1",
    therapist_id: str = "therapist-1",
    *,
    check_in_id: str = "checkin-1",
    consecutive_missed: int = 3,
    due_at: datetime = NOW + timedelta(days=3),
) -> CheckInMissed:
    return CheckInMissed(
        check_in_id=check_in_id,
        client_id=client_id,
        therapist_id=therapist_id,
        due_at=due_at,
        missed_at=due_at + timedelta(days=7),
        consecutive_missed=consecutive_missed,
    )


def treatment_plan_updated(
    client_id: str = "client-1", status: PlanStatus = PlanStatus.active, version: int = 4
) -> TreatmentPlanUpdated:
    return TreatmentPlanUpdated(
        client_id=client_id,
        therapist_id="therapist-1",
        version=version,
        status=status,
        approach=Approach.psychodynamic,
        session_cadence=SessionCadence.weekly,
        check_in_interval_days=14,
        goals=GOALS,
        updated_at=NOW,
    )


def check_in_completed(
    client_id: str = "client-1",
    *,
    deterioration: bool = True,
    review: bool = True,
    check_in_id: str = "checkin-1",
    therapist_id: str = "therapist-1",
) -> CheckInCompleted:
    return CheckInCompleted(
        check_in_id=check_in_id,
        client_id=client_id,
        therapist_id=therapist_id,
        completed_at=NOW,
        phq9=PHQ9,
        gad7=GAD7,
        risk_level=RiskLevel.moderate,
        concerns=CONCERNS,
        change=OutcomeChange(
            phq9_delta=7,
            gad7_delta=5,
            reliable_improvement=False,
            reliable_deterioration=deterioration,
            response=False,
            remission=False,
        ),
        plan_review_suggested=review,
        review_reasons=REVIEW_REASONS if review else [],
    )
