"""`session-rescheduled` → client and therapist get the new time and an updated .ics; reminders move."""

from __future__ import annotations

from services.notifications.commands.dispatch import Dispatch
from services.notifications.commands.notify import announce
from services.notifications.commands.reminders import move_reminders
from services.notifications.domain import audience
from services.notifications.store import sessions
from shared.events.envelope import Envelope
from shared.events.models import SessionRescheduled
from shared.messaging.subscriptions import Handler


def on_session_rescheduled(dispatch: Dispatch) -> Handler:
    async def handle(event: SessionRescheduled, envelope: Envelope) -> None:
        """Move the session's reminders and tell both of the new time."""
        session = await dispatch.stores.sessions.upsert(
            event.session_id, sessions.rescheduled(event, envelope.correlation_id), cause=envelope
        )
        assert session is not None  # an upsert whose change always writes
        await move_reminders(dispatch, event.session_id, session)
        notices = audience.session_rescheduled(
            event,
            join_url=session.get("join_url"),
            kind=session.get("kind"),
            calendar_sequence=int(session.get("calendar_sequence", 1)),
        )
        await announce(dispatch, notices, event, envelope)

    return handle
