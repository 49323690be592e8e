"""`session-booked` → client and therapist get the time, the link and an .ics; reminders are set."""

from __future__ import annotations

from services.notifications.commands.dispatch import Dispatch
from services.notifications.commands.notify import announce
from services.notifications.commands.reminders import first_reminders, schedule_reminders
from services.notifications.domain import audience
from services.notifications.store import sessions
from shared.events.envelope import Envelope
from shared.events.models import SessionBooked
from shared.messaging.subscriptions import Handler


def on_session_booked(dispatch: Dispatch) -> Handler:
    async def handle(event: SessionBooked, envelope: Envelope) -> None:
        """Tell client and therapist (e-mail with .ics); remind them 24 h and 1 h before."""
        planned = first_reminders(event.session_id, event.starts_at, dispatch.clock())
        timer_ids = {lead: timer_id for lead, (timer_id, _) in planned.items()}
        await dispatch.stores.sessions.upsert(
            event.session_id, sessions.booked(event, envelope.correlation_id, timer_ids), cause=envelope
        )
        await schedule_reminders(dispatch, event.session_id, planned)
        await announce(dispatch, audience.session_booked(event), event, envelope)

    return handle
