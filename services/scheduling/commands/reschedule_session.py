"""Move a session to another slot of the same therapist; the old slot is freed.

The new slot is claimed first, keeping the cells the session already holds (a move by
half an hour overlaps its old time); once the move is stored, the claims it no longer
needs are released. If the session changed meanwhile nothing moves and the new claims
are released. The session keeps its id and its revision goes up, so calendar apps update
the event (iCalendar SEQUENCE) instead of adding another.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from services.scheduling.commands.claim_slot import SlotUnavailable, claim_slot
from services.scheduling.commands.context import Scheduling
from services.scheduling.commands.events import Actor, session_rescheduled
from services.scheduling.commands.record_care import Decision, write_care
from services.scheduling.commands.refusals import conflict, not_found
from services.scheduling.commands.slot_refusals import refused
from services.scheduling.domain.care import Care, Session
from services.scheduling.domain.slots import Calendar, Slot
from services.scheduling.store.therapist_sessions import booked_of
from services.scheduling.store.therapists import availability_of


async def reschedule_session(ctx: Scheduling, session: Session, starts_at: datetime, *, by: Actor) -> Session:
    now = ctx.now()
    if not session.is_upcoming(now):
        raise conflict("session_not_upcoming", "only a booked session that has not started can be moved")
    availability = await availability_of(ctx.stores.therapists, session.therapist_id)
    if availability is None:
        raise conflict("slot_not_offered", "the therapist has published no availability")
    booked = await booked_of(ctx.stores.therapist_sessions, session.therapist_id)
    calendar = Calendar(availability, booked, now=now, exclude=[session.session_id])
    if (refusal := calendar.refusal(starts_at)) is not None:
        raise refused(refusal)
    slot = Slot(starts_at, starts_at + timedelta(minutes=availability.session_minutes))
    try:
        claimed = await claim_slot(
            ctx,
            session_id=session.session_id,
            client_id=session.client_id,
            therapist_id=session.therapist_id,
            availability=availability,
            slot=slot,
            held=session.claims,
        )
    except SlotUnavailable as unavailable:
        raise refused(unavailable.refusal) from unavailable

    def decide(care: Care) -> Decision:
        current = care.session(session.session_id)
        if current is None:
            raise not_found("session", session.session_id)
        if current.revision != session.revision or not current.is_upcoming(ctx.now()):
            raise conflict("session_changed", "the session changed meanwhile; read it again and retry")
        moved = replace(
            current,
            starts_at=claimed.slot.starts_at,
            ends_at=claimed.slot.ends_at,
            busy_from=claimed.busy_from,
            busy_to=claimed.busy_to,
            claims=claimed.claims,
            revision=current.revision + 1,
            updated_at=ctx.now(),
        )
        care = care.with_sessions(moved)
        event = session_rescheduled(moved, current.starts_at, care, by=by, cause=None, now=ctx.now())
        return Decision(care, [event])

    care = await write_care(
        ctx,
        session.client_id,
        decide,
        claims={session.session_id: (*claimed.claims, *session.claims)},
    )
    stored = care.session(session.session_id)
    assert stored is not None
    return stored
