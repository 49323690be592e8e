"""Sample intake content, care relationship events and fakes-backed stores for the intake tests."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.intake.store import IntakeStores
from shared.events.common import Candidate
from shared.events.models import (
    MatchAccepted,
    MatchDeclined,
    MatchProposed,
    SessionAttendanceRecorded,
    SessionBooked,
)
from shared.security.field_encryption import FieldCipher
from tests.support.fakes import InMemoryDocuments

BACKGROUND = "Panic attacks since my father's illness; I avoid the train to work."
GOAL_TEXT = "Take the train to work again without a panic attack."


def cipher() -> FieldCipher:
    return FieldCipher({"k1": os.urandom(32)}, "k1")


def stores() -> IntakeStores:
    return IntakeStores(
        clients=InMemoryDocuments("clients"),
        intakes=InMemoryDocuments("intakes"),
        plans=InMemoryDocuments("treatment_plans"),
        check_ins=InMemoryDocuments("check_ins"),
    )


def complete_sections(**overrides: Any) -> dict[str, Any]:
    """Every section of an intake, valid and complete (no risk unless overridden)."""
    sections: dict[str, Any] = {
        "jurisdiction": "US-CA",
        "timezone": "America/Los_Angeles",
        "languages": ["en", "es-MX"],
        "concerns": ["anxiety", "stress"],
        "history": {
            "prior_therapy": True,
            "diagnoses": ["generalized anxiety disorder"],
            "medications": ["sertraline 50 mg"],
            "background": BACKGROUND,
        },
        "goals": [{"code": "reduce_panic", "kind": "specific_issue", "description": GOAL_TEXT}],
        "phq9": [1, 1, 1, 1, 1, 1, 1, 1, 0],
        "gad7": [2, 2, 2, 2, 2, 2, 2],
        "preferences": {"approach": "cbt", "format": "either", "language": "en", "competencies": ["lgbtq"]},
        "availability": [{"day": "tuesday", "start": "09:00", "end": "17:00"}],
    }
    return {**sections, **overrides}


HIGH_RISK = {
    "phq9": [3, 3, 3, 3, 3, 2, 2, 2, 2],
    "cssrs": {"q1": True, "q2": True, "q3": True, "q4": False, "q5": True, "q6_ever": False},
}


# ---------------------------------------------------------------------- care relationship events


def _now(at: datetime | None) -> datetime:
    return at or datetime.now(UTC)


def proposed(
    client_id: str,
    *therapists: str,
    match_id: str = "match-1",
    expires_at: datetime | None = None,
    origin: str = "intake",
) -> MatchProposed:
    return MatchProposed(
        match_id=match_id,
        client_id=client_id,
        intake_id="intake-1",
        candidates=[Candidate(therapist_id=t, rank=n, score=0.5) for n, t in enumerate(therapists, 1)],
        expires_at=expires_at or datetime.now(UTC) + timedelta(days=1),
        origin=origin,
    )


def accepted(
    client_id: str, therapist_id: str, *, match_id: str = "match-1", at: datetime | None = None
) -> MatchAccepted:
    return MatchAccepted(
        match_id=match_id, client_id=client_id, therapist_id=therapist_id, accepted_at=_now(at)
    )


def declined(
    client_id: str, therapist_id: str, *, match_id: str = "match-1", at: datetime | None = None
) -> MatchDeclined:
    return MatchDeclined(
        match_id=match_id, client_id=client_id, therapist_id=therapist_id, declined_at=_now(at)
    )


def booked(
    client_id: str,
    therapist_id: str,
    *,
    by: str = "client",
    kind: str = "introduction",
    match_id: str | None = "match-1",
    starts_at: datetime | None = None,
) -> SessionBooked:
    starts = starts_at or datetime.now(UTC) + timedelta(days=2)
    return SessionBooked.model_validate(
        {
            "session_id": f"session-{uuid.uuid4().hex[:8]}",
            "client_id": client_id,
            "therapist_id": therapist_id,
            "starts_at": starts,
            "ends_at": starts + timedelta(minutes=50),
            "timezone": "America/Los_Angeles",
            "format": "video",
            "series_id": "series-1",
            "sequence": 1,
            "join_url": "https://meet.example/s",
            "match_id": match_id,
            "kind": kind,
            "booked_by": by,
        }
    )


def attended(
    client_id: str, therapist_id: str, attendance: str = "held", *, at: datetime | None = None
) -> SessionAttendanceRecorded:
    return SessionAttendanceRecorded.model_validate(
        {
            "session_id": f"session-{uuid.uuid4().hex[:8]}",
            "client_id": client_id,
            "therapist_id": therapist_id,
            "series_id": "series-1",
            "sequence": 1,
            "kind": "introduction",
            "attendance": attendance,
            "starts_at": _now(at) - timedelta(hours=1),
            "recorded_at": _now(at),
            "recorded_by": "clinician",
            "match_id": "match-1",
        }
    )
