"""The client declines a proposal, or one therapist in it: match-declined, then a new proposal.

Declining one therapist excludes them; declining the proposal as a whole excludes all its
candidates. Either way the client is never offered them again, the proposal's holds are
released, the decline is folded into the client's care relationships (a chosen or
treating therapist declined is ended: 404 on the client's record from then on), the
client leaves the waitlist, a client already in care with a declined therapist leaves
their caseload (a place freed: the waitlist is re-matched for it), and a new proposal
(`origin: decline`) follows without them. An expired proposal may be declined too (the
client asks for another). Repeating the same decline returns the same outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.matching.commands.cause import command_cause
from services.matching.commands.errors import Conflict, InvalidChoice, NotFound
from services.matching.commands.propose_matches import match_id_for, propose_again
from services.matching.commands.release_holds import release_holds
from services.matching.commands.rematch_waitlist import rematch_waitlist
from services.matching.commands.update_client import update_client
from services.matching.context import Matching
from services.matching.store import clients as client_state
from services.matching.store import proposals
from services.matching.store.therapists import end_care
from shared.events.envelope import new_event
from shared.events.models import MatchDeclined
from shared.storage import Document

DECLINABLE = proposals.OPEN | {proposals.EXPIRED}


@dataclass(frozen=True, slots=True)
class Declined:
    declined: Document
    proposal: Document | None
    """The new proposal (None when none could be made, e.g. proposals per intake exhausted)."""


async def decline_match(
    matching: Matching, match_id: str, *, therapist_id: str | None = None, reason: str = "client_declined"
) -> Declined:
    proposal = await matching.proposals.get(match_id)
    if proposal is None:
        raise NotFound(f"no match {match_id}")
    candidates = proposals.candidate_ids(proposal)
    if therapist_id is not None and therapist_id not in candidates:
        raise InvalidChoice("therapist_id", f"{therapist_id} is not a candidate of match {match_id}")
    now = matching.clock()
    cause = command_cause(
        "decline",
        match_id,
        therapist_id or "*",
        subject=proposal["client_id"],
        correlation_id=proposal.get("correlation_id"),
        now=now,
        source=matching.policy.source,
    )
    next_id = match_id_for("after", cause.id)
    if proposal["status"] not in DECLINABLE and proposal.get("closed_by") != cause.id:
        raise Conflict(f"match {match_id} is {proposal['status']}")

    declined_ids = [therapist_id] if therapist_id else candidates
    client_id = proposal["client_id"]
    event = new_event(
        MatchDeclined(
            match_id=match_id, client_id=client_id, therapist_id=therapist_id, reason=reason, declined_at=now
        ),
        source=matching.policy.source,
        cause=cause,
        now=now,
    )
    declined = await matching.proposals.update(
        match_id,
        proposals.close(
            proposals.DECLINED,
            now,
            closed_by=cause.id,
            events=[event],
            only_from=DECLINABLE,
            declined_therapist_ids=declined_ids,
            successor=next_id,
            decline_reason=reason,
        ),
        cause=cause,
    )
    assert declined is not None
    await release_holds(matching, proposal)
    client = await matching.clients.get(client_id)
    in_care_with = (client or {}).get("therapist_id")
    ends_care = in_care_with is not None and in_care_with in declined_ids
    changes = [
        client_state.exclude(declined_ids, client_state.DECLINED, now),
        client_state.fold([(event.data, declined.get("closed_at", now))], now),
        client_state.leave_waitlist(now),
    ]
    if ends_care:
        changes.append(client_state.in_care_with(None, now, only_if=in_care_with))
    await update_client(matching, client_id, client_state.both(*changes))
    if ends_care and in_care_with is not None:
        await matching.change_therapists([(in_care_with, end_care(client_id, now))])
    following = await propose_again(
        matching,
        client_id,
        match_id=next_id,
        cause=cause,
        origin="decline",
        predecessor=match_id,
        sequence=int(proposal.get("sequence", 1)) + 1,
    )
    if ends_care and in_care_with is not None:
        await rematch_waitlist(matching, [in_care_with], cause=cause)
    return Declined(declined=declined, proposal=following)
