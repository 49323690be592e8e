"""Move a session to another slot of the same therapist; the old slot is freed.

The new slot is claimed first, keeping the cells the session already holds (a move by
half an hour overlaps its old time); once the move is stored, the claims it no longer
needs are released. If the session changed meanwhile nothing moves and the new claims
are released. The session keeps its id and its revision goes up, so calendar apps update
the event (iCalendar SEQUENCE) instead of adding another.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from services.scheduling.commands.claim_slot import ClaimStart, claim_start, offered_availability
from services.scheduling.context import SchedulingContext
from services.scheduling.domain.care import Care, Session
from services.scheduling.domain.events import Actor, session_rescheduled
from services.scheduling.domain.slots import Calendar
from services.scheduling.store.clients import Decision, write_care
from services.scheduling.store.therapist_sessions import booked_of
from shared.refusals import Conflict


@dataclass(frozen=True, slots=True)
class RescheduleSession:
    """Move `session` (as the caller found it) to the slot starting at `starts_at`, as `by` asks."""

    session: Session
    starts_at: datetime
    by: Actor


async def reschedule_session(command: RescheduleSession, ctx: SchedulingContext) -> Session:
    session, starts_at = command.session, command.starts_at
    now = ctx.now()
    if not session.is_upcoming(now):
        raise Conflict("only a booked session that has not started can be moved", code="session_not_upcoming")
    availability = await offered_availability(ctx, session.therapist_id)
    booked = await booked_of(ctx.stores.therapist_sessions, session.therapist_id)
    calendar = Calendar(availability, booked, now=now, exclude=[session.session_id])
    claimed = await claim_start(
        ClaimStart(
            session.session_id, session.client_id, session.therapist_id, calendar, starts_at, session.claims
        ),
        ctx,
    )

    def decide(care: Care) -> Decision:
        now = ctx.now()
        current = care.known_session(session.session_id)
        if current.revision != session.revision or not current.is_upcoming(now):
            raise Conflict("the session changed meanwhile; read it again and retry", code="session_changed")
        moved = replace(
            current,
            starts_at=claimed.slot.starts_at,
            ends_at=claimed.slot.ends_at,
            busy_from=claimed.busy_from,
            busy_to=claimed.busy_to,
            claims=claimed.claims,
            revision=current.revision + 1,
            updated_at=now,
        )
        care = care.with_sessions(moved)
        event = session_rescheduled(moved, current.starts_at, care, by=command.by, cause=None, now=now)
        return Decision(care, [event])

    care = await write_care(
        ctx,
        session.client_id,
        decide,
        claims={session.session_id: (*claimed.claims, *session.claims)},
    )
    return care.known_session(session.session_id)
