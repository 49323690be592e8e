"""Sample intake content, care relationship events and a fakes-backed context for the intake tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from services.intake.commands.create_intake import CreateIntake, create_intake
from services.intake.commands.submit_intake import SubmitIntake, submit_intake
from services.intake.context import IntakeContext
from services.intake.domain.intake import NewIntake
from shared.care.crisis_resources import SERVED_COUNTRIES
from shared.events.common import Candidate
from shared.events.models import (
    MatchAccepted,
    MatchDeclined,
    MatchProposed,
    SessionAttendanceRecorded,
    SessionBooked,
)
from shared.ports import Clock
from shared.security.field_encryption import FieldCipher
from shared.storage import Document
from tests.support.fakes import InMemoryDocuments, InMemoryTimers, ManualClock

BACKGROUND = "Panic attacks since my father's illness; I avoid the train to work."
GOAL_TEXT = "Take the train to work again without a panic attack."


def cipher() -> FieldCipher:
    return FieldCipher({"k1": os.urandom(32)}, "k1")


EXPIRY = timedelta(days=7)


def context(
    *,
    clock: Clock | None = None,
    timers: InMemoryTimers | None = None,
    served: Collection[str] = SERVED_COUNTRIES,
    expiry: timedelta = EXPIRY,
) -> IntakeContext:
    """The service's context on in-memory fakes, with a fresh cipher (`ctx.cipher`)."""
    sealing = cipher()
    return IntakeContext(
        clients=InMemoryDocuments("clients"),
        intakes=InMemoryDocuments("intakes"),
        plans=InMemoryDocuments("treatment_plans"),
        check_ins=InMemoryDocuments("check_ins"),
        timers=timers or InMemoryTimers(),
        clock=clock or ManualClock(),
        cipher_of=lambda: sealing,
        served_countries=tuple(served),
        check_in_expiry=expiry,
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


async def draft(ctx: IntakeContext, *, created_by: dict[str, str] | None = None, **sections: Any) -> Document:
    """A draft of client-1's with `sections`, created now (`ctx.clock`)."""
    new = NewIntake.model_validate({"client_id": "client-1", **sections})
    command = CreateIntake(
        new=new, fields=frozenset(new.model_fields_set), created_by=created_by or {}, now=ctx.clock()
    )
    return await create_intake(command, ctx)


async def submitted(ctx: IntakeContext, **overrides: Any) -> Document:
    """Client-1's intake, complete (with `overrides`) and submitted now."""
    created = await draft(ctx, **complete_sections(**overrides))
    return await submit_intake(SubmitIntake(intake_id=str(created["_id"]), now=ctx.clock()), ctx)


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
