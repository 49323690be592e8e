"""Therapists' availability (`therapists/{therapist_id}`): the rules slots are computed from.

The document keeps the availability in its plain form (the API body's, which
`domain/availability.availability_from` reads and checks), a version counted up by each
change, and when it was written; its outbox carries `therapist-availability-changed`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.scheduling.domain.availability import DAYS, Availability, availability_from, format_clock
from shared.events.envelope import OutgoingEvent
from shared.ports import Documents
from shared.storage.documents import Revision


async def availability_of(store: Documents, therapist_id: str) -> Availability | None:
    document = await store.get(therapist_id)
    if document is None or document.get("availability") is None:
        return None
    return availability_from(document["availability"])


async def write_availability(
    store: Documents, therapist_id: str, availability: Availability, event: OutgoingEvent, *, now: datetime
) -> dict[str, Any]:
    """Store the therapist's availability as the next version, `event` in the same write."""

    def change(current: dict[str, Any] | None) -> Revision:
        version = int((current or {}).get("version", 0)) + 1
        document = {
            "therapist_id": therapist_id,
            "availability": availability_to_document(availability),
            "version": version,
            "updated_at": now,
        }
        return Revision(document, [event])

    stored = await store.upsert(therapist_id, change)
    assert stored is not None
    return stored


def availability_to_document(availability: Availability) -> dict[str, Any]:
    """The plain form: what the API takes and answers, and `availability_from` reads back."""
    return {
        "timezone": availability.timezone,
        "weekly": [
            {"day": DAYS[r.day], "start": format_clock(r.window.start), "end": format_clock(r.window.end)}
            for r in availability.weekly
        ],
        "exceptions": [
            {
                "date": e.day.isoformat(),
                "off": not e.windows,
                "windows": [{"start": format_clock(w.start), "end": format_clock(w.end)} for w in e.windows],
            }
            for e in availability.exceptions
        ],
        "session_minutes": availability.session_minutes,
        "buffer_before_minutes": availability.buffer_before_minutes,
        "buffer_after_minutes": availability.buffer_after_minutes,
        "min_notice_hours": availability.min_notice_hours,
        "horizon_days": availability.horizon_days,
        "daily_cap": availability.daily_cap,
        "slot_step_minutes": availability.slot_step_minutes,
        "accepting_new_clients": availability.accepting_new_clients,
    }
