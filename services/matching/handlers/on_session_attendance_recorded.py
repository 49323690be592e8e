"""session-attendance-recorded: a held introduction puts the client in care with the therapist.

Folded into the client's care relationships (`in_care`: the therapist keeps reading the
record, and matching's access decisions follow); a no-show changes nothing (the client
stays *chosen*). One write of the client's document, with the event as its cause.
"""

from __future__ import annotations

from services.matching.commands.update_client import update_client
from services.matching.context import Matching
from services.matching.store import clients as client_state
from shared.events.envelope import Envelope
from shared.events.models import SessionAttendanceRecorded
from shared.messaging.subscriptions import Handler


def on_session_attendance_recorded(matching: Matching) -> Handler:
    async def handle(event: SessionAttendanceRecorded, envelope: Envelope) -> None:
        """Folds the attendance into the client's care relationships."""
        change = client_state.fold([(event, envelope.time)], matching.clock())
        await update_client(matching, event.client_id, change, cause=envelope)

    return handle
