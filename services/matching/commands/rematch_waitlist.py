"""A therapist may take a waiting client now: re-match the waitlist, oldest first.

Called after the write of every trigger (`domain/waitlist.py` lists them) with the
therapists it concerns and its cause (the event's envelope, or the request's command
cause). Steps:

1. Read the waitlist's order (one document, by `_id`); nobody waiting: done.
2. Pick, oldest first, at most `waitlist_rematch_per_trigger` clients whom one of the
   trigger's therapists could take now (`to_rematch`, on this replica's read model,
   which the trigger's own write has just updated).
3. For each, read their document: a client who no longer waits on that proposal is a
   stale entry, dropped. Otherwise rank for them on their latest intake (without whom they
   declined or left) and, only if somebody can be held, propose (`origin: waitlist`,
   `predecessor_match_id`: the empty proposal they waited on); the new proposal takes them
   off the waitlist and the empty one is closed as superseded. Nobody yet: they stay where
   they are and nothing is published.

Several replicas and redelivery: the new proposal's id derives from the empty proposal the
client waited on, so a redelivered trigger, or two triggers racing on two replicas, make
at most one proposal per wait (the second finds it); its event id derives from the
trigger. A client is re-matched at most once per trigger, and no trigger proposes to a
client from the list alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.matching.commands.propose_matches import match_id_for, propose_matches
from services.matching.context import Matching
from services.matching.domain.waitlist import Waiting, to_rematch
from services.matching.metrics import WAITLIST_REMATCHES
from services.matching.store import clients as client_state
from services.matching.store import proposals, waitlist
from shared.events.envelope import Envelope
from shared.observability.logs import get_logger
from shared.storage import Document

log = get_logger(__name__)

WAITLIST = "waitlist"


async def rematch_waitlist(
    matching: Matching, therapist_ids: Iterable[str], *, cause: Envelope
) -> list[Document]:
    """The proposals made for waiting clients (none when nobody could be matched)."""
    wanted = list(dict.fromkeys(therapist_ids))
    if not wanted:
        return []
    listed = waitlist.entries_of(await matching.waitlist.get(waitlist.WAITLIST_ID))
    if not listed:
        return []
    index = await matching.directory.current()
    now = matching.clock()
    whom = to_rematch(
        listed, [index.get(t) for t in wanted], now, matching.policy.waitlist_rematch_per_trigger
    )
    made: list[Document] = []
    for waiting in whom:
        proposal = await _rematch(matching, waiting, cause)
        WAITLIST_REMATCHES.labels("matched" if proposal is not None else "still_waiting").inc()
        if proposal is not None:
            made.append(proposal)
    if whom:
        log.info(
            "waitlist re-matched",
            therapist_ids=wanted,
            tried=len(whom),
            matched=len(made),
            match_ids=[p["_id"] for p in made],
        )
    return made


async def _rematch(matching: Matching, waiting: Waiting, cause: Envelope) -> Document | None:
    client = await matching.clients.get(waiting.client_id)
    wait = client_state.wait_of(client)
    if client is None or wait is None or wait["match_id"] != waiting.match_id or not client.get("intake"):
        await matching.waitlist.update(
            waitlist.WAITLIST_ID, waitlist.drop(waiting.client_id, waiting.match_id, matching.clock())
        )
        return None
    match_id = match_id_for(WAITLIST, waiting.match_id)
    proposal = await propose_matches(
        matching,
        waiting.client_id,
        client_state.intake_of(client),
        match_id=match_id,
        cause=cause,
        excluded=client_state.excluded_ids(client),
        origin=WAITLIST,
        predecessor=waiting.match_id,
        sequence=int(wait.get("sequence", 1)) + 1,
        correlation_id=client.get("correlation_id"),
        unless_empty=True,
    )
    if proposal is not None:
        closing = proposals.close(
            proposals.SUPERSEDED,
            matching.clock(),
            closed_by=match_id,
            only_from=proposals.HOLDING,
            successor=match_id,
        )
        await matching.proposals.update(waiting.match_id, closing)
    return proposal
