"""`session-attendance-recorded` → after an introduction, the client hears whether care has started.

Held: their therapist will now write the treatment plan with them. No-show: care has not
started, and the therapist's next free times are offered, in the client's zone (the
session's zone, known from `session-booked`, for a client who gave none here).
"""

from __future__ import annotations

from services.notifications.commands.sessions import AnnounceAttendance, announce_attendance
from services.notifications.context import NotificationsContext
from shared.events.envelope import Envelope
from shared.events.models import SessionAttendanceRecorded
from shared.messaging.subscriptions import Handler


def on_session_attendance_recorded(ctx: NotificationsContext) -> Handler:
    async def handle(event: SessionAttendanceRecorded, envelope: Envelope) -> None:
        """Tell the client what the introduction's attendance means for them."""
        await announce_attendance(AnnounceAttendance(event, envelope), ctx)

    return handle
