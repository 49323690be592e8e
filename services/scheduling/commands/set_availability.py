"""Set a therapist's availability; matching hears a summary (`therapist-availability-changed`).

Booked sessions stay as they are: a change of rules never cancels anyone. The summary
carries the weekly rules as windows in the therapist's zone and how many slots are free
in the next 14 days, which is what matching scores availability with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.scheduling.context import SchedulingContext
from services.scheduling.domain.availability import AvailabilityError, availability_from
from services.scheduling.domain.events import availability_changed
from services.scheduling.domain.slot_refusals import invalid
from services.scheduling.domain.slots import Calendar
from services.scheduling.store.therapist_sessions import booked_of
from services.scheduling.store.therapists import write_availability

SUMMARY_DAYS = 14


@dataclass(frozen=True, slots=True)
class SetAvailability:
    """Set the therapist's availability from its plain form (`spec`, the API body's)."""

    therapist_id: str
    spec: Mapping[str, Any]
    correlation_id: str | None = None


async def set_availability(command: SetAvailability, ctx: SchedulingContext) -> dict[str, Any]:
    """Store the availability (a rule that cannot hold is refused naming its field); return the
    stored document."""
    try:
        availability = availability_from(command.spec)
    except AvailabilityError as error:
        raise invalid(f"body.{error.field}", error.message, detail=str(error)) from error
    now = ctx.now()
    booked = await booked_of(ctx.stores.therapist_sessions, command.therapist_id)
    open_slots = Calendar(availability, booked, now=now).free_slots(now, now + timedelta(days=SUMMARY_DAYS))
    event = availability_changed(
        command.therapist_id,
        availability,
        open_slots=len(open_slots),
        correlation_id=command.correlation_id,
        now=now,
    )
    return await write_availability(ctx.stores.therapists, command.therapist_id, availability, event, now=now)
