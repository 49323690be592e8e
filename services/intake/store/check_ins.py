"""Check-ins (`check_ins`, `_id = check_in_id` as scheduling named it in `check-in-due`).

    pending:   {_id, client_id, therapist_id, due_at, instruments, series_id, status:
                "pending", created_at, due_event: <CloudEvents headers of check-in-due>}
    completed: + {completed_at, answers: {phq9, gad7, cssrs, goal_progress},
                note: <sealed>, result: {phq9, gad7, risk_level, risk_reasons, change,
                plan_review_suggested, review_reasons, goals_reached}}
    missed:    + {status: "missed", missed_at, consecutive_missed}

`due_event` keeps the envelope of the event that asked for the check-in, so the events of
its completion (or of its expiry) name it as their cause and carry its journey.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.events.envelope import Envelope
from shared.events.models import CheckInDue
from shared.storage import Document


def note_context(check_in_id: str) -> str:
    return f"check_ins/{check_in_id}/note"


def pending_check_in(event: CheckInDue, envelope: Envelope, *, created_at: datetime) -> Document:
    return {
        "_id": event.check_in_id,
        "client_id": event.client_id,
        "therapist_id": event.therapist_id,
        "due_at": event.due_at,
        "instruments": list(event.instruments),
        "series_id": event.series_id,
        "status": "pending",
        "created_at": created_at,
        "due_event": envelope.to_headers(),
    }


def due_envelope(check_in: Document) -> Envelope:
    headers: dict[str, Any] = check_in["due_event"]
    return Envelope.from_headers({str(k): str(v) for k, v in headers.items()})
