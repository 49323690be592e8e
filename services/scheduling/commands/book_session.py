"""Book a given slot directly (`POST /v1/sessions`): 201, or a conflict when taken or not offered.

A client not yet in care starts it with this session (an introduction, with the series
and check-ins that follow); a client in care with this therapist gets one more therapy
session in their series. A client in care with another therapist switches through
matching, not here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from services.scheduling.commands.care_changes import introduction, session_from_claim, start_care
from services.scheduling.commands.claim_slot import SlotUnavailable, claim_slot
from services.scheduling.commands.context import Scheduling
from services.scheduling.commands.events import session_booked
from services.scheduling.commands.ids import new_session_id
from services.scheduling.commands.record_care import Decision, load_care, write_care
from services.scheduling.commands.refusals import conflict
from services.scheduling.commands.slot_refusals import refused
from services.scheduling.domain.care import Care, Session, SessionKind
from services.scheduling.domain.slots import Calendar, Slot
from services.scheduling.store.therapist_sessions import booked_of
from services.scheduling.store.therapists import availability_of


async def book_session(
    ctx: Scheduling,
    *,
    client_id: str,
    therapist_id: str,
    starts_at: datetime,
    session_format: str | None = None,
    timezone: str | None = None,
) -> Session:
    availability = await availability_of(ctx.stores.therapists, therapist_id)
    if availability is None:
        raise conflict("slot_not_offered", "the therapist has published no availability")
    care = await load_care(ctx, client_id) or Care(client_id=client_id)
    _check_care(care, therapist_id)
    if care.therapist_id is None and not availability.accepting_new_clients:
        raise conflict("not_accepting_new_clients", "the therapist is not accepting new clients")
    now = ctx.now()
    calendar = Calendar(availability, await booked_of(ctx.stores.therapist_sessions, therapist_id), now=now)
    if (refusal := calendar.refusal(starts_at)) is not None:
        raise refused(refusal)
    session_id = new_session_id()
    slot = Slot(starts_at, starts_at + timedelta(minutes=availability.session_minutes))
    try:
        claimed = await claim_slot(
            ctx,
            session_id=session_id,
            client_id=client_id,
            therapist_id=therapist_id,
            availability=availability,
            slot=slot,
        )
    except SlotUnavailable as unavailable:
        raise refused(unavailable.refusal) from unavailable

    def decide(care: Care) -> Decision:
        _check_care(care, therapist_id)
        if care.timezone is None and timezone is not None:
            care = replace(care, timezone=timezone)
        series = care.series
        if series is not None and care.therapist_id == therapist_id:
            session = session_from_claim(
                ctx,
                care,
                claimed,
                session_id=session_id,
                series_id=series.series_id,
                sequence=series.next_sequence,
                kind=SessionKind.therapy,
                format=session_format,
                match_id=series.match_id,
            )
            care = replace(
                care.with_sessions(session), series=replace(series, next_sequence=series.next_sequence + 1)
            )
        else:
            session = introduction(
                ctx, care, claimed, session_id=session_id, format=session_format, match_id=None
            )
            care = start_care(ctx, care, session)
        return Decision(care, [session_booked(session, care, cause=None, now=ctx.now())])

    stored = await write_care(
        ctx, client_id, decide, refs={session_id: therapist_id}, claims={session_id: claimed.claims}
    )
    session = stored.session(session_id)
    assert session is not None
    return session


def _check_care(care: Care, therapist_id: str) -> None:
    if care.therapist_id not in (None, therapist_id):
        raise conflict(
            "in_care_with_another_therapist",
            "the client is in care with another therapist; a switch goes through matching",
        )
