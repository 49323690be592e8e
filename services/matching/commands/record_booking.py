"""A session was booked: the caseload, the proposal booked, and a client's own booking as their choice.

- A client's first session with a therapist (`sequence == 1`) puts them in the therapist's
  caseload, which is how caseload is ever counted (also for a proposal booked at once by
  the system, `book_at_once`); when the client was in care with another therapist, that
  is a switch taking effect: they leave the former's caseload, and the place freed there
  re-matches the waitlist.
- The proposal (the event's `match_id`, else the client's current one) is booked and its
  other holds released, in the same write of the therapists as the caseload's
  (`update_many`: one revision-checked bulk write for all of them). The therapists are
  written, and the journal told, before the proposal is booked: a switch asked as soon as the
  proposal shows booked, on any replica, must not find those candidates still held.
- The client's own booking of an introduction with a candidate of an open proposal that
  nobody was accepted from yet is their choice (`Proposal.chosen_by_booking`): the
  acceptance is recorded exactly as `POST /matches/{id}/accept` records it, in the same
  write that books the proposal, and `match-accepted` is published, its id derived from
  the session-booked event (a redelivery publishes nothing twice). A booking by the system,
  a clinician or an admin accepts nothing.
- The client's document, in one write with the event as its cause: in care with the
  therapist, the session-booked (and the acceptance) folded into the care relationships,
  and, once a first session is booked, no longer waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from services.matching.commands.release_holds import ReleaseHolds
from services.matching.commands.rematch_waitlist import RematchWaitlist, rematch_waitlist
from services.matching.context import MatchingContext
from services.matching.domain.client import Client
from services.matching.store import clients as client_store
from services.matching.store.proposals import acceptance_of, moving, proposal_of
from services.matching.store.therapists import end_care, release_hold, start_care
from shared.events.envelope import Envelope, OutgoingEvent, new_event
from shared.events.models import MatchAccepted, SessionBooked
from shared.observability.logs import get_logger
from shared.storage import Document
from shared.storage.documents import Change

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RecordBooking:
    booking: SessionBooked
    cause: Envelope
    """The session-booked's envelope: the id the acceptance it records derives from."""


async def record_booking(command: RecordBooking, ctx: MatchingContext) -> None:
    booking = command.booking
    # The client's and the booked proposal's leases in one insert, held while recording.
    leases = [ctx.clients.lease_of(booking.client_id)]
    if booking.match_id:
        leases.append(ctx.proposals.lease_of(booking.match_id))
    async with ctx.clients.holding(leases):
        await _record(command, ctx)


async def _record(command: RecordBooking, ctx: MatchingContext) -> None:
    booking, envelope = command.booking, command.cause
    now = ctx.clock()
    # Both read for the writes that follow: each write then costs no read of its own.
    found = await ctx.clients.get(booking.client_id, writing=True)
    client = client_store.client_of(found, booking.client_id)
    match_id = booking.match_id or client.current_match_id
    former = client.therapist_id
    first = booking.sequence == 1
    switched_from = former if first and former and former != booking.therapist_id else None
    if switched_from is not None:
        await ctx.directory.change_therapists([(switched_from, end_care(booking.client_id, now))])

    therapists: list[tuple[str, Change]] = []
    if first:
        therapists.append((booking.therapist_id, start_care(booking.client_id, match_id, now)))
    document = await ctx.proposals.get(match_id, writing=True) if match_id else None
    if document is not None:
        released = ReleaseHolds.of(proposal_of(document), keep=booking.therapist_id)
        therapists += [(t, release_hold(released.match_id, now)) for t in released.therapist_ids]
    # The caseload and the other candidates' holds given back, written together and told to the
    # other replicas before the proposal is booked: whoever sees it booked (a switch asked at
    # once, on any replica) ranks those therapists free. Releasing again on a redelivery
    # changes nothing.
    written = await ctx.directory.change_therapists(therapists)
    if first and booking.therapist_id not in written:
        log.warning("session booked with a therapist not in the directory", therapist_id=booking.therapist_id)
    if document is not None:
        document = await _book(document, command, now, ctx)

    care: list[tuple[BaseModel, datetime]] = [(booking, envelope.time)]
    if document is not None and proposal_of(document).accepted_with(booking.therapist_id):
        care.append(acceptance_of(document))

    def booked(known: Client) -> Client:
        known = known.fold(care)
        return known.in_care_with(booking.therapist_id).leave_waitlist() if first else known

    await client_store.update(ctx.clients, ctx.waitlist, booking.client_id, booked, now=now, cause=envelope)
    if switched_from is not None:
        await rematch_waitlist(RematchWaitlist((switched_from,), envelope), ctx)


async def _book(document: Document, command: RecordBooking, now: datetime, ctx: MatchingContext) -> Document:
    """The proposal booked (while it holds), and accepted when the booking is the client's choice."""
    booking, envelope = command.booking, command.cause
    proposal = proposal_of(document)
    if not proposal.is_holding:
        return document
    accepted: list[OutgoingEvent] = []
    if proposal.chosen_by_booking(booking):
        accepted.append(
            new_event(
                MatchAccepted(
                    match_id=proposal.match_id,
                    client_id=booking.client_id,
                    therapist_id=booking.therapist_id,
                    accepted_at=now,
                ),
                source=ctx.policy.source,
                cause=envelope,
                now=now,
            )
        )
    book = moving(
        lambda p: p.book(booking.therapist_id, now, choosing=bool(accepted), chosen_by=envelope.id), accepted
    )
    booked = await ctx.proposals.update(proposal.match_id, book, cause=envelope) or document
    if accepted and proposal_of(booked).accepted_with(booking.therapist_id):
        log.info("booking accepted the match", match_id=proposal.match_id, therapist_id=booking.therapist_id)
    return booked
