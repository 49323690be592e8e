"""`session-attendance-recorded` → a held introduction puts the client in care with the therapist.

From then on that therapist (alone) writes the treatment plan. A no-show changes
nothing: the client stays with the therapist they chose, and care has not started.
"""

from __future__ import annotations

from services.intake.commands.follow_care import FollowCare, follow_care
from services.intake.context import IntakeContext
from shared.events.envelope import Envelope
from shared.events.models import SessionAttendanceRecorded
from shared.messaging.subscriptions import Handler


def on_session_attendance_recorded(ctx: IntakeContext) -> Handler:
    async def handle(event: SessionAttendanceRecorded, envelope: Envelope) -> None:
        """Held introduction: in care; anything else moves nothing."""
        await follow_care(FollowCare(event.client_id, event, envelope), ctx)

    return handle
