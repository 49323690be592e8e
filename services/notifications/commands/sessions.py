"""A session's announcements and its reminders as durable timers: set at booking, moved by a
reschedule, dropped on cancel, sent when due.

Each session event updates what this service knows of the session (`sessions`), its
reminder timers, and tells client and therapist. A reminder timer
(`reminder:{session_id}:{24h|1h}`) carries only the session id and its lead; when it fires
it reads the session's current time and link from `sessions`, so a moved session is
announced at its new time. Moving uses the timer primitive's `reschedule` while the timer
is pending; a reminder that fired already (the session moved later after its 24 h reminder
went out) gets a fresh timer keyed by its new due time. A reminder whose time has passed by
the reschedule is dropped. After an introduction, the client hears what its attendance
means, in the session's zone when they gave none here.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.notifications import timers
from services.notifications.commands.notify import Notify, notify
from services.notifications.context import NotificationsContext
from services.notifications.domain import audience
from services.notifications.domain.delivery import Origin
from services.notifications.domain.reminders import (
    REMINDER_LEADS,
    SessionStatus,
    moved_reminder_timer_id,
    reminder_time,
    reminder_timer_id,
    reminder_times,
)
from services.notifications.store import sessions
from services.notifications.store.sessions import reminder_timer, starts_at_of
from shared.events.envelope import Envelope
from shared.events.models import (
    SessionAttendanceRecorded,
    SessionBooked,
    SessionCancelled,
    SessionRescheduled,
)
from shared.observability.logs import get_logger
from shared.storage import AlreadyExists, Document
from shared.storage.documents import Creation, Revision
from shared.storage.timers import Planned

log = get_logger(__name__)

STALE_AFTER = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class AnnounceBooking:
    booking: SessionBooked
    cause: Envelope


async def announce_booking(command: AnnounceBooking, ctx: NotificationsContext) -> None:
    """Keep the session, set its reminders 24 h and 1 h before; tell both (e-mail with .ics)."""
    event, cause = command.booking, command.cause
    planned = {
        lead: (reminder_timer_id(event.session_id, lead), due)
        for lead, due in reminder_times(event.starts_at, ctx.clock()).items()
    }
    timer_ids = {lead: timer_id for lead, (timer_id, _) in planned.items()}
    session, created = await _keep_booking(ctx, event, cause, timer_ids)
    if not sessions.changed_since_booking(session):  # else the reschedule set them, or none are due
        # All reminders in one insert; a session new here cannot have had one fire yet.
        await ctx.timers.schedule_many(
            [_reminder(timer_id, event.session_id, lead, due) for lead, (timer_id, due) in planned.items()],
            first_time=created,
        )
    await notify(Notify.answering(audience.session_booked(event), event, cause), ctx)


@dataclass(frozen=True, slots=True)
class AnnounceReschedule:
    reschedule: SessionRescheduled
    cause: Envelope


async def announce_reschedule(command: AnnounceReschedule, ctx: NotificationsContext) -> None:
    """Move the session's reminders and tell both of the new time (an updated .ics)."""
    event, cause = command.reschedule, command.cause
    session = await _keep(ctx, event.session_id, sessions.rescheduled(event, cause.correlation_id), cause)
    await _move_reminders(ctx, event.session_id, session)
    notices = audience.session_rescheduled(
        event,
        join_url=session.get("join_url"),
        kind=session.get("kind"),
        calendar_sequence=int(session.get("calendar_sequence", 1)),
    )
    await notify(Notify.answering(notices, event, cause), ctx)


@dataclass(frozen=True, slots=True)
class AnnounceCancellation:
    cancellation: SessionCancelled
    cause: Envelope


async def announce_cancellation(command: AnnounceCancellation, ctx: NotificationsContext) -> None:
    """Cancel the session's reminders and tell both it is off (a cancelling .ics)."""
    event, cause = command.cancellation, command.cause
    session = await _keep(ctx, event.session_id, sessions.cancelled(event, cause.correlation_id), cause)
    await _cancel_reminders(ctx, event.session_id, session)
    notices = audience.session_cancelled(
        event,
        ends_at=session.get("ends_at"),
        format_=session.get("format"),
        kind=session.get("kind"),
        timezone=session.get("timezone"),
        calendar_sequence=int(session.get("calendar_sequence", 1)),
    )
    await notify(Notify.answering(notices, event, cause), ctx)


@dataclass(frozen=True, slots=True)
class AnnounceAttendance:
    attendance: SessionAttendanceRecorded
    cause: Envelope


async def announce_attendance(command: AnnounceAttendance, ctx: NotificationsContext) -> None:
    """After an introduction, tell the client whether care has started (next free times if not)."""
    event = command.attendance
    if event.kind != "introduction":
        return  # a therapy session's attendance tells nobody anything
    session = await ctx.stores.sessions.get(event.session_id)
    notices = audience.session_attendance_recorded(event, timezone=(session or {}).get("timezone"))
    await notify(Notify.answering(notices, event, command.cause), ctx)


@dataclass(frozen=True, slots=True)
class RemindOfSession:
    """A reminder timer fired: `lead` before the session, due at `due_at`, firing as `event_id`."""

    session_id: str
    lead: str
    due_at: datetime
    event_id: str
    timer_id: str


async def remind_of_session(command: RemindOfSession, ctx: NotificationsContext) -> None:
    """Remind client and therapist of the session's current time and link."""
    session_id, lead = command.session_id, command.lead
    session = await ctx.stores.sessions.get(session_id)
    if session is None or session.get("status") == SessionStatus.cancelled:
        return
    starts_at = starts_at_of(session)
    if abs(reminder_time(starts_at, lead) - command.due_at) > STALE_AFTER:
        log.info(
            "reminder timer no longer matches its session", timer_id=command.timer_id, session_id=session_id
        )
        return
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
    origin = Origin(command.event_id, "session-reminder", session.get("correlation_id") or command.timer_id)
    await notify(Notify(tuple(notices), origin), ctx)


async def _keep_booking(
    ctx: NotificationsContext, event: SessionBooked, cause: Envelope, timer_ids: Mapping[str, str]
) -> tuple[Document, bool]:
    """Write what the booking tells of the session; the session as it now is, and whether this
    call created it.

    A session new here (the usual case) is created by one unique insert with its cause: no
    lease, no read, no release (three round trips fewer). The insert is atomic, and nobody can
    be halfway through changing a document that does not exist yet; a reschedule or
    cancellation that read it absent under its lease a moment before finds its own insert
    refused (E11000) and is retried, reading this one. One that exists (a reschedule or
    cancellation came first, or this booking did before: a redelivery) is changed under its
    lease, as before: the cause recorded in either write makes a redelivery change nothing.
    """
    booked = sessions.booked(event, cause.correlation_id, timer_ids)
    fresh = {**booked(None).document, "_id": event.session_id}
    with suppress(AlreadyExists):
        if await ctx.stores.sessions.insert(fresh, cause=cause):
            return fresh, True
    created: list[bool] = []

    def change(current: Document | None) -> Revision | None:
        created.append(current is None)
        return booked(current)

    return await _keep(ctx, event.session_id, change, cause), created == [True]


async def _keep(ctx: NotificationsContext, session_id: str, change: Creation, cause: Envelope) -> Document:
    """Write what the event tells of the session; the session as it now is."""
    session = await ctx.stores.sessions.upsert(session_id, change, cause=cause)
    assert session is not None  # an upsert whose change always writes
    return session


def _reminder(timer_id: str, session_id: str, lead: str, due: datetime) -> Planned:
    return Planned(timer_id, timers.SESSION_REMINDER, due, {"session_id": session_id, "lead": lead})


async def _schedule_reminder(
    ctx: NotificationsContext, timer_id: str, session_id: str, lead: str, due: datetime
) -> None:
    await ctx.timers.schedule_many([_reminder(timer_id, session_id, lead, due)])


async def _move_reminders(ctx: NotificationsContext, session_id: str, session: Mapping[str, Any]) -> None:
    now = ctx.clock()
    starts_at = starts_at_of(session)
    current_timers: Mapping[str, str] = session.get("reminder_timers", {})
    for lead in REMINDER_LEADS:
        due = reminder_time(starts_at, lead)
        current = current_timers.get(lead, reminder_timer_id(session_id, lead))
        if due <= now:
            await ctx.timers.cancel(current)
            continue
        if await ctx.timers.reschedule(current, due):
            continue
        fresh = moved_reminder_timer_id(session_id, lead, due)
        await _schedule_reminder(ctx, fresh, session_id, lead, due)
        await ctx.stores.sessions.update(session_id, reminder_timer(lead, fresh))


async def _cancel_reminders(ctx: NotificationsContext, session_id: str, session: Mapping[str, Any]) -> None:
    current_timers: Mapping[str, str] = session.get("reminder_timers", {})
    for lead in REMINDER_LEADS:
        for timer_id in {current_timers.get(lead), reminder_timer_id(session_id, lead)} - {None}:
            await ctx.timers.cancel(str(timer_id))
