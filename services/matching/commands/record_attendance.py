"""A session's attendance was recorded: a held introduction puts the client in care with the therapist.

Folded into the client's care relationships (`in_care`: the therapist keeps reading the
record, and matching's access decisions follow); a no-show changes nothing (the client
stays *chosen*). One write of the client's document, with the event as its cause.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.matching.context import MatchingContext
from services.matching.store import clients as client_store
from shared.events.envelope import Envelope
from shared.events.models import SessionAttendanceRecorded


@dataclass(frozen=True, slots=True)
class RecordAttendance:
    attendance: SessionAttendanceRecorded
    cause: Envelope


async def record_attendance(command: RecordAttendance, ctx: MatchingContext) -> None:
    folded = [(command.attendance, command.cause.time)]
    await client_store.update(
        ctx.clients,
        ctx.waitlist,
        command.attendance.client_id,
        lambda client: client.fold(folded),
        now=ctx.clock(),
        cause=command.cause,
    )
