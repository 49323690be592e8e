"""Set a therapist's availability; matching hears a summary (`therapist-availability-changed`).

Booked sessions stay as they are: a change of rules never cancels anyone. The summary
carries the weekly rules as windows in the therapist's zone and how many slots are free
in the next 14 days, which is what matching scores availability with.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.scheduling.commands.context import SOURCE, Scheduling
from services.scheduling.domain.availability import DAY_CODES, Availability, format_clock
from services.scheduling.domain.slots import Calendar
from services.scheduling.store.therapist_sessions import booked_of
from shared.events.common import Weekday, WeeklyWindow
from shared.events.envelope import new_event
from shared.events.models import TherapistAvailabilityChanged
from shared.storage.documents import Revision

SUMMARY_DAYS = 14


async def set_availability(
    ctx: Scheduling, therapist_id: str, availability: Availability, *, correlation_id: str | None
) -> dict[str, Any]:
    now = ctx.now()
    calendar = Calendar(availability, await booked_of(ctx.stores.therapist_sessions, therapist_id), now=now)
    open_slots = calendar.free_slots(now, now + timedelta(days=SUMMARY_DAYS))
    summary = TherapistAvailabilityChanged(
        therapist_id=therapist_id,
        timezone=availability.timezone,
        weekly=[
            WeeklyWindow(
                day=Weekday(DAY_CODES[rule.day]),
                start=format_clock(rule.window.start),
                end=format_clock(rule.window.end),
            )
            for rule in availability.weekly
        ],
        accepting_new_clients=availability.accepting_new_clients,
        open_slots_next_14_days=len(open_slots),
        changed_at=now,
    )
    event = new_event(summary, source=SOURCE, correlation_id=correlation_id, now=now)

    def change(current: dict[str, Any] | None) -> Revision:
        version = int((current or {}).get("version", 0)) + 1
        document = {
            "therapist_id": therapist_id,
            "availability": availability.to_document(),
            "version": version,
            "updated_at": now,
        }
        return Revision(document, [event])

    stored = await ctx.stores.therapists.upsert(therapist_id, change)
    assert stored is not None
    return stored
