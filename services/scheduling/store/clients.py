"""A client's care record (`clients/{client_id}`): read it, and write it as one unit of work.

Every change of a client goes through `write_care`, in this order:

1. a `session_refs/{session_id}` entry for each new session (before: a reference to a
   session that never got written is harmless, a session nobody can find is not);
2. ONE write of `clients/{client_id}` under its lease (effect, events and the cause's id
   in one write, DESIGN §4):
   - the consumed `event`, if it moves care relationships, is folded into them at its
     cause's time, and care it ended ends (`domain/consent.py`);
   - `decide` runs on that record and returns the new care record and its events; a
     refusal (`shared.refusals`) raised by `decide` changes nothing;
   - the events `decide` produced that move relationships (a client's own booking of an
     introduction, a held introduction) are folded in too, so the record never says
     otherwise than what it published;
3. settle, from what was stored (so a redelivery after a crash settles the same way):
   release the claims this change took, or its sessions held before, that the stored
   sessions do not hold (a cancelled session's are free already, see `_release_unheld`),
   rewrite the therapists' session documents (each shows what its therapist may keep,
   `domain/consent.py`), schedule the care record's timers (`timers.py`; idempotent by
   id) and cancel the ones it replaced.

A command that reads the record to decide and then always writes it (a consumed proposal
or acceptance) reads it through `care_to_write`: one read, with its write's lease.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from services.scheduling import timers
from services.scheduling.context import SchedulingContext
from services.scheduling.domain.care import Care, SeriesStatus
from services.scheduling.domain.consent import follow_consent
from services.scheduling.domain.events import session_cancelled
from services.scheduling.store import therapist_sessions
from services.scheduling.store.care_documents import care_from_document, care_to_document
from shared.care.relationship import RELATIONSHIP_EVENTS
from shared.events.envelope import Envelope, OutgoingEvent
from shared.observability.logs import get_logger
from shared.storage import AlreadyExists
from shared.storage.documents import Revision
from shared.storage.locks import LockTimeout

log = get_logger(__name__)

_SERIES_WITH_TIMER = (SeriesStatus.active,)


@dataclass(frozen=True, slots=True)
class Decision:
    """What a command decided: the care record as it is to be stored, and the events it publishes."""

    care: Care
    events: Sequence[OutgoingEvent] = field(default_factory=tuple)


Decide = Callable[[Care], Decision | None]
"""A pure decision on the current care record; None changes nothing."""


async def load_care(ctx: SchedulingContext, client_id: str, *, writing: bool = False) -> Care | None:
    """The client's care record, if scheduling has one (`writing`: see `Documents.get`)."""
    document = await ctx.stores.clients.get(client_id, writing=writing)
    return None if document is None else care_from_document(document)


async def care_of(ctx: SchedulingContext, client_id: str, *, writing: bool = False) -> Care:
    """The client's care record, or an empty one when scheduling knows nothing of them yet."""
    return await load_care(ctx, client_id, writing=writing) or Care(client_id=client_id)


@asynccontextmanager
async def care_to_write(ctx: SchedulingContext, client_id: str) -> AsyncIterator[Care]:
    """The client's care record, read for the `write_care` the block then makes.

    For a command that always writes the record after reading it (a consumed proposal or
    acceptance): the record's lease is taken by the read and kept for the block, so the write
    costs neither a lease nor a read. The therapists' calendars are not held with it: many
    bookings at once want a popular therapist's, and holding it for a whole booking queued
    them (the journey at 10 intakes/s: booking p99 2.7 -> 21 s).
    """
    clients = ctx.stores.clients
    async with clients.holding([clients.lease_of(client_id)]):
        yield await care_of(ctx, client_id, writing=True)


async def write_care(
    ctx: SchedulingContext,
    client_id: str,
    decide: Decide,
    *,
    cause: Envelope | None = None,
    event: BaseModel | None = None,
    refs: Mapping[str, str] | None = None,
    claims: Mapping[str, Iterable[str]] | None = None,
    firing: str | None = None,
) -> Care:
    """Apply `decide` to the client's care record and settle; return the stored record.

    `event` is the consumed event `cause` carries: folded into the care relationships (at
    `cause.time`) in the same write. `refs` maps each new session's id to its therapist;
    `claims` maps a session id to claims this change took (or that its session held
    before): whichever the stored session does not hold afterwards is released.
    """
    taken = {session_id: tuple(ids) for session_id, ids in (claims or {}).items()}
    for session_id, therapist_id in (refs or {}).items():
        with suppress(AlreadyExists):  # written by an earlier attempt of this very change
            await ctx.stores.session_refs.insert(
                {"_id": session_id, "client_id": client_id, "therapist_id": therapist_id}
            )
    before: list[Care] = []

    def change(document: dict[str, Any] | None) -> Revision | None:
        current = Care(client_id=client_id) if document is None else care_from_document(document)
        before.append(current)
        care = current
        events: list[OutgoingEvent] = []
        if event is not None and cause is not None:
            care, events = _followed(ctx, care, event, cause.time, cause)
        decision = decide(care)
        if decision is None:
            if care == current:
                return None
            decision = Decision(care)
        care = decision.care
        events.extend(decision.events)
        for produced in decision.events:
            if isinstance(produced.data, RELATIONSHIP_EVENTS):
                care, more = _followed(ctx, care, produced.data, produced.envelope.time, cause)
                events.extend(more)
        return Revision({"_id": client_id, **care_to_document(care)}, events)

    try:
        stored = await ctx.stores.clients.upsert(client_id, change, cause=cause)
    except BaseException:
        # Nothing was written: free what this change took, never what the sessions hold.
        current = await load_care(ctx, client_id)
        await asyncio.shield(_release_unheld(ctx, current or Care(client_id=client_id), taken))
        raise
    care = Care(client_id=client_id) if stored is None else care_from_document(stored)
    await settle(ctx, care, before=before[0] if before else None, claims=taken, firing=firing)
    return care


def _followed(
    ctx: SchedulingContext, care: Care, event: BaseModel, at: datetime, cause: Envelope | None
) -> tuple[Care, list[OutgoingEvent]]:
    """`event` folded into the relationships; a session-cancelled for each session that ended."""
    now = ctx.now()
    care, cancelled = follow_consent(care, event, at, now)
    return care, [session_cancelled(s, care, cause=cause, now=now) for s in cancelled]


async def settle(
    ctx: SchedulingContext,
    care: Care,
    *,
    before: Care | None = None,
    claims: Mapping[str, Sequence[str]] | None = None,
    firing: str | None = None,
) -> None:
    now = ctx.now()
    released = dict(claims or {})
    if before is not None:  # sessions this change cancelled let their time go
        for s in before.sessions:
            released[s.session_id] = (*released.get(s.session_id, ()), *s.claims)
    await _release_unheld(ctx, care, released)
    touched = {s.therapist_id for s in care.sessions if s.is_upcoming(now)}
    if before is None:  # a redelivery found its effect stored: settle every calendar it may touch
        touched |= {s.therapist_id for s in care.sessions}
    else:
        previous = {s.session_id: s for s in before.sessions}
        touched |= {s.therapist_id for s in care.sessions if previous.get(s.session_id) != s}
        touched |= {
            r.therapist_id
            for r in care.relationships.relationships
            if before.relationships.of(r.therapist_id) != r
        }
    touched |= {s.therapist_id for s in care.sessions if s.session_id in (claims or {})}
    touched &= {s.therapist_id for s in care.sessions}  # proposals alone change no calendar
    await therapist_sessions.sync(ctx.stores.therapist_sessions, care, touched, now=now)
    await _arm_timers(ctx, care, before, firing)


async def _arm_timers(ctx: SchedulingContext, care: Care, before: Care | None, firing: str | None) -> None:
    """Schedule the record's current timers (idempotent by id); cancel the ones it replaced."""
    payload = {"client_id": care.client_id}
    armed = set()
    series, check_ins = care.series, care.check_ins
    if series is not None and series.timer_id and series.timer_due and series.status in _SERIES_WITH_TIMER:
        armed.add(series.timer_id)
        await ctx.stores.timers.schedule(series.timer_id, timers.SERIES, series.timer_due, payload)
    if check_ins is not None and check_ins.timer_id and check_ins.due_at and check_ins.active:
        armed.add(check_ins.timer_id)
        await ctx.stores.timers.schedule(check_ins.timer_id, timers.CHECK_IN, check_ins.due_at, payload)
    if before is None:
        return
    # A replaced timer finds itself superseded when it fires (handlers check the record),
    # so cancelling it only saves that work: the timer being fired by this very change is
    # left to its worker, and one another replica is firing right now (its lease taken)
    # is left to find out for itself.
    replaced = [before.series.timer_id if before.series else None]
    replaced.append(before.check_ins.timer_id if before.check_ins else None)
    for old in replaced:
        if old and old not in armed and old != firing:
            try:
                await ctx.stores.timers.cancel(old)
            except LockTimeout:
                log.info("a replaced timer is firing elsewhere; it will find itself superseded", timer_id=old)


async def _release_unheld(ctx: SchedulingContext, care: Care, claims: Mapping[str, Sequence[str]]) -> None:
    """Release each listed claim its session does not hold in `care`.

    A cancelled session's claims are left as they are: cancelling is final, and the ledger
    takes a claim whose session is cancelled over as an orphan at once (`store/claims.py`),
    for one read of the care record, where a release costs a lease-held write per cell.
    """
    for session_id, ids in claims.items():
        session = care.session(session_id)
        if session is not None and not session.holds_time:
            continue
        kept = set(session.claims) if session is not None else set()
        if stale := [claim_id for claim_id in ids if claim_id not in kept]:
            await ctx.ledger.release(stale, holder=session_id, now=ctx.now())
