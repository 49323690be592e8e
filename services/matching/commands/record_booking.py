"""A session was booked: the caseload, the proposal booked, and a client's own booking as their choice.

- A client's first session with a therapist (`sequence == 1`) puts them in the therapist's
  caseload, which is how caseload is ever counted (also for a proposal booked at once by
  the system, `book_at_once`); when the client was in care with another therapist, that
  is a switch taking effect: they leave the former's caseload, and the place freed there
  re-matches the waitlist.
- The proposal (the event's `match_id`, else the client's current one) is booked and its
  other holds released.
- The client's own booking of an introduction with a candidate of an open proposal that
  nobody was accepted from yet is their choice (`proposals.chosen_by_booking`): the
  acceptance is recorded exactly as `POST /matches/{id}/accept` records it, in the same
  write that books the proposal, and `match-accepted` is published, its id derived from
  the session-booked event (a redelivery publishes nothing twice). A booking by the system,
  a clinician or an admin accepts nothing.
- The client's document, in one write with the event as its cause: in care with the
  therapist, the session-booked (and the acceptance) folded into the care relationships,
  and, once a first session is booked, no longer waiting.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from services.matching.commands.accept_match import acceptance_of
from services.matching.commands.release_holds import release_holds
from services.matching.commands.rematch_waitlist import rematch_waitlist
from services.matching.commands.update_client import update_client
from services.matching.context import Matching
from services.matching.store import clients as client_state
from services.matching.store import proposals
from services.matching.store.therapists import end_care, start_care
from shared.events.envelope import Envelope, new_event
from shared.events.models import MatchAccepted, SessionBooked
from shared.observability.logs import get_logger
from shared.storage.documents import Change

log = get_logger(__name__)


async def record_booking(matching: Matching, event: SessionBooked, envelope: Envelope) -> None:
    now = matching.clock()
    client = await matching.clients.get(event.client_id)
    match_id = event.match_id or (client or {}).get("current_match_id")
    former = (client or {}).get("therapist_id")
    first = event.sequence == 1
    switched_from = former if first and former and former != event.therapist_id else None
    if switched_from is not None:
        await matching.change_therapists([(switched_from, end_care(event.client_id, now))])
    if first:
        written = await matching.change_therapists(
            [(event.therapist_id, start_care(event.client_id, match_id, now))]
        )
        if event.therapist_id not in written:
            log.warning(
                "session booked with a therapist not in the directory", therapist_id=event.therapist_id
            )

    proposal = await matching.proposals.get(match_id) if match_id else None
    if proposal is not None and proposal["status"] in proposals.HOLDING:
        accepted = []
        if proposals.chosen_by_booking(proposal, event):
            accepted.append(
                new_event(
                    MatchAccepted(
                        match_id=proposal["_id"],
                        client_id=event.client_id,
                        therapist_id=event.therapist_id,
                        accepted_at=now,
                    ),
                    source=matching.policy.source,
                    cause=envelope,
                    now=now,
                )
            )
        booking = proposals.book(event.therapist_id, now, accepted=accepted, accepted_by=envelope.id)
        proposal = await matching.proposals.update(proposal["_id"], booking, cause=envelope) or proposal
        if accepted and proposals.accepted_with(proposal, event.therapist_id):
            log.info("booking accepted the match", match_id=proposal["_id"], therapist_id=event.therapist_id)
    if proposal is not None:
        await release_holds(matching, proposal, keep=event.therapist_id)

    care: list[tuple[BaseModel, datetime]] = [(event, envelope.time)]
    if proposals.accepted_with(proposal, event.therapist_id):
        assert proposal is not None
        care.append(acceptance_of(proposal))
    changes: list[Change] = [client_state.fold(care, now)]
    if first:
        changes += [client_state.in_care_with(event.therapist_id, now), client_state.leave_waitlist(now)]
    await update_client(matching, event.client_id, client_state.both(*changes), cause=envelope)
    if switched_from is not None:
        await rematch_waitlist(matching, [switched_from], cause=envelope)
