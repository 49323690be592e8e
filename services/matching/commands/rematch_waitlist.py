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

from dataclasses import dataclass

from services.matching.commands.propose_matches import ProposeMatches, propose_matches
from services.matching.context import MatchingContext
from services.matching.domain.proposal import match_id_for
from services.matching.domain.waitlist import Waiting, to_rematch
from services.matching.metrics import WAITLIST_REMATCHES
from services.matching.store import waitlist
from services.matching.store.clients import client_of
from services.matching.store.proposals import moving
from shared.events.envelope import Envelope
from shared.observability.logs import get_logger
from shared.storage import Document

log = get_logger(__name__)

WAITLIST = "waitlist"


@dataclass(frozen=True, slots=True)
class RematchWaitlist:
    therapist_ids: tuple[str, ...]
    """The therapists the trigger concerns."""
    cause: Envelope
    """The trigger: an event's envelope, or a request's command cause."""


async def rematch_waitlist(command: RematchWaitlist, ctx: MatchingContext) -> list[Document]:
    """The proposals made for waiting clients (none when nobody could be matched)."""
    wanted = list(dict.fromkeys(command.therapist_ids))
    if not wanted:
        return []
    listed = waitlist.entries_of(await ctx.waitlist.get(waitlist.WAITLIST_ID))
    if not listed:
        return []
    index = await ctx.directory.current()
    now = ctx.clock()
    whom = to_rematch(listed, [index.get(t) for t in wanted], now, ctx.policy.waitlist_rematch_per_trigger)
    made: list[Document] = []
    for waiting in whom:
        proposal = await _rematch(waiting, command.cause, ctx)
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


async def _rematch(waiting: Waiting, cause: Envelope, ctx: MatchingContext) -> Document | None:
    client = client_of(await ctx.clients.get(waiting.client_id), waiting.client_id)
    wait = client.wait
    if wait is None or wait.match_id != waiting.match_id or client.intake is None:
        await ctx.waitlist.update(
            waitlist.WAITLIST_ID, waitlist.drop(waiting.client_id, waiting.match_id, ctx.clock())
        )
        return None
    match_id = match_id_for(WAITLIST, waiting.match_id)
    proposal = await propose_matches(
        ProposeMatches(
            waiting.client_id,
            client.intake,
            match_id,
            cause,
            excluded=client.excluded_ids,
            origin=WAITLIST,
            predecessor=waiting.match_id,
            sequence=wait.sequence + 1,
            correlation_id=client.correlation_id,
            unless_empty=True,
        ),
        ctx,
    )
    if proposal is not None:
        await ctx.proposals.update(waiting.match_id, moving(lambda p: p.supersede(ctx.clock(), by=match_id)))
    return proposal
