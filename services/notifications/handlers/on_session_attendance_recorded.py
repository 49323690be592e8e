"""`session-attendance-recorded` → after an introduction, the client hears whether care has started.

Held: their therapist will now write the treatment plan with them. No-show: care has not
started, and the therapist's next free times are offered, in the client's zone (the
session's zone, known from `session-booked`, for a client who gave none here).
"""

from __future__ import annotations

from services.notifications.commands.dispatch import Dispatch
from services.notifications.commands.notify import announce
from services.notifications.domain import audience
from shared.events.envelope import Envelope
from shared.events.models import SessionAttendanceRecorded
from shared.messaging.subscriptions import Handler


def on_session_attendance_recorded(dispatch: Dispatch) -> Handler:
    async def handle(event: SessionAttendanceRecorded, envelope: Envelope) -> None:
        """Tell the client what the introduction's attendance means for them."""
        if event.kind != "introduction":
            return  # a therapy session's attendance tells nobody anything
        session = await dispatch.stores.sessions.get(event.session_id)
        timezone = (session or {}).get("timezone")
        notices = audience.session_attendance_recorded(event, timezone=timezone)
        await announce(dispatch, notices, event, envelope)

    return handle
