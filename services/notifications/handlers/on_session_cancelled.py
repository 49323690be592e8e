"""`session-cancelled` → reminders are cancelled; client and therapist hear it (a cancelling .ics)."""

from __future__ import annotations

from services.notifications.commands.dispatch import Dispatch
from services.notifications.commands.notify import announce
from services.notifications.commands.reminders import cancel_reminders
from services.notifications.domain import audience
from services.notifications.store import sessions
from shared.events.envelope import Envelope
from shared.events.models import SessionCancelled
from shared.messaging.subscriptions import Handler


def on_session_cancelled(dispatch: Dispatch) -> Handler:
    async def handle(event: SessionCancelled, envelope: Envelope) -> None:
        """Cancel the session's reminders and tell both it is off."""
        session = await dispatch.stores.sessions.upsert(
            event.session_id, sessions.cancelled(event, envelope.correlation_id), cause=envelope
        )
        assert session is not None  # an upsert whose change always writes
        await cancel_reminders(dispatch, event.session_id, session)
        notices = audience.session_cancelled(
            event,
            ends_at=session.get("ends_at"),
            format_=session.get("format"),
            kind=session.get("kind"),
            timezone=session.get("timezone"),
            calendar_sequence=int(session.get("calendar_sequence", 1)),
        )
        await announce(dispatch, notices, event, envelope)

    return handle
