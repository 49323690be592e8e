"""session-attendance-recorded: a held introduction puts the client in care.

See `commands/record_attendance.py`.
"""

from __future__ import annotations

from services.matching.commands.record_attendance import RecordAttendance, record_attendance
from services.matching.context import MatchingContext
from shared.events.envelope import Envelope
from shared.events.models import SessionAttendanceRecorded
from shared.messaging.subscriptions import Handler


def on_session_attendance_recorded(ctx: MatchingContext) -> Handler:
    async def handle(event: SessionAttendanceRecorded, envelope: Envelope) -> None:
        """Folds the attendance into the client's care relationships."""
        await record_attendance(RecordAttendance(event, envelope), ctx)

    return handle
