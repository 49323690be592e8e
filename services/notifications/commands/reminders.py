"""Session reminders as durable timers: set at booking, moved by a reschedule, dropped on cancel.

A reminder timer (`reminder:{session_id}:{24h|1h}`) carries only the session id and its
lead; when it fires it reads the session's current time and link from `sessions`, so a
moved session is announced at its new time. Moving uses the timer primitive's
`reschedule` while the timer is pending; a reminder that fired already (the session moved
later after its 24 h reminder went out) gets a fresh timer keyed by its new due time. A
reminder whose time has passed by the reschedule is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from services.notifications.commands.dispatch import REMINDER_TIMER, Dispatch
from services.notifications.commands.notify import notify
from services.notifications.domain import audience
from services.notifications.domain.delivery import Origin
from services.notifications.domain.reminders import (
    REMINDER_LEADS,
    moved_reminder_timer_id,
    reminder_time,
    reminder_timer_id,
    reminder_times,
)
from services.notifications.store.sessions import reminder_timer, starts_at_of
from shared.events.envelope import OutgoingEvent
from shared.observability.logs import get_logger
from shared.storage.timers import Timer, TimerHandler

log = get_logger(__name__)

STALE_AFTER = timedelta(minutes=1)


def first_reminders(session_id: str, starts_at: datetime, now: datetime) -> dict[str, tuple[str, datetime]]:
    """Timer id and due time of each reminder still ahead at booking."""
    return {
        lead: (reminder_timer_id(session_id, lead), due)
        for lead, due in reminder_times(starts_at, now).items()
    }


async def schedule_reminders(
    dispatch: Dispatch, session_id: str, planned: Mapping[str, tuple[str, datetime]]
) -> None:
    for lead, (timer_id, due) in planned.items():
        await dispatch.timers.schedule(
            timer_id, REMINDER_TIMER, due, {"session_id": session_id, "lead": lead}
        )


async def move_reminders(dispatch: Dispatch, session_id: str, session: Mapping[str, Any]) -> None:
    now = dispatch.clock()
    starts_at = starts_at_of(session)
    timers: Mapping[str, str] = session.get("reminder_timers", {})
    for lead in REMINDER_LEADS:
        due = reminder_time(starts_at, lead)
        current = timers.get(lead, reminder_timer_id(session_id, lead))
        if due <= now:
            await dispatch.timers.cancel(current)
            continue
        if await dispatch.timers.reschedule(current, due):
            continue
        fresh = moved_reminder_timer_id(session_id, lead, due)
        await dispatch.timers.schedule(fresh, REMINDER_TIMER, due, {"session_id": session_id, "lead": lead})
        await dispatch.stores.sessions.update(session_id, reminder_timer(lead, fresh))


async def cancel_reminders(dispatch: Dispatch, session_id: str, session: Mapping[str, Any]) -> None:
    timers: Mapping[str, str] = session.get("reminder_timers", {})
    for lead in REMINDER_LEADS:
        for timer_id in {timers.get(lead), reminder_timer_id(session_id, lead)} - {None}:
            await dispatch.timers.cancel(str(timer_id))


def fire_reminder(dispatch: Dispatch) -> TimerHandler:
    async def handle(timer: Timer) -> list[OutgoingEvent]:
        """Remind client and therapist of the session's current time and link."""
        session_id, lead = str(timer.payload["session_id"]), str(timer.payload["lead"])
        session = await dispatch.stores.sessions.get(session_id)
        if session is None or session.get("status") == "cancelled":
            return []
        starts_at = starts_at_of(session)
        if abs(reminder_time(starts_at, lead) - timer.due_at) > STALE_AFTER:
            log.info("reminder timer no longer matches its session", timer_id=timer.id, session_id=session_id)
            return []
        notices = audience.session_reminder(
            session_id=session_id,
            client_id=session["client_id"],
            therapist_id=session["therapist_id"],
            starts_at=starts_at,
            ends_at=session.get("ends_at"),
            session_format=session.get("format") or "video",
            kind=session.get("kind") or "therapy",
            join_url=session.get("join_url"),
            sequence=int(session.get("sequence", 1)),
            timezone=session.get("timezone"),
            lead=lead,
        )
        origin = Origin(
            timer.event_id("reminder"), "session-reminder", session.get("correlation_id") or timer.id
        )
        await notify(dispatch, notices, origin)
        return []

    return handle
