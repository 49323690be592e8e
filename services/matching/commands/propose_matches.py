"""Propose therapists to a client: rank on the read model, hold capacity, publish match-proposed.

Steps, each safe to repeat (a redelivered event, a retried request or a re-fired timer
runs them again):

1. The proposal exists already (its id derives from its cause): make sure its expiry timer
   and the client's side of it exist, and return it. No second proposal, ever. (A caller
   that knows the proposal cannot exist yet says so, `new`, and this read is skipped; should
   it exist all the same, step 4's insert finds it and returns it.)
2. Rank on this replica's in-process directory, caught up with the shared journal (or with
   what it named at a catch-up less than `directory_freshness_seconds` ago; a first ranking
   that then falls short of `top_k` ranks again caught up, so a therapist just registered
   elsewhere still counts).
3. Hold capacity on the best candidates, by revision-checked writes of each therapist's
   document (the holds of one batch written together, `update_many`), after every hard constraint is
   checked again on the document as it is now. A therapist another replica filled
   meanwhile is refused (and the read model learns why); ranking repeats on the fresher
   model until `top_k` are held or nobody eligible is left. A hold left by a crash before
   step 4 is this proposal's own (keyed by match id) and is reused when the cause comes
   again; if it never comes, the hold lapses at its `expires_at`.
4. Insert the proposal with its match-proposed event in the same single write (outbox):
   from here the relay publishes while the rest goes on.
5. Schedule the expiry timer (idempotent by id), tell the other replicas which therapists
   changed (journal), and settle the client's side: the proposal linked and current, its
   match-proposed folded into their care relationships, and their wait: an empty proposal
   puts them on the waitlist, any other takes them off it. A crash before these leaves the
   event unacknowledged: it comes again and step 1 completes them.

Every proposal says why it was made (`origin`: intake, decline, switch, booking_failed,
expired, waitlist) and which proposal it follows (`predecessor_match_id`). With no
eligible therapist the proposal has no candidates, names the constraint that emptied the
list, is published with `waitlisted: true`, gets no expiry (the waitlist re-matches the
client instead, so an empty proposal never expires into another), and an operator alert
is logged (ids and codes only). A re-match from the waitlist (`unless_empty`) makes no
proposal at all when still nobody is eligible: the client was told once that they wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.matching import timers
from services.matching.context import MatchingContext
from services.matching.domain.filters import ProposalRound
from services.matching.domain.needs import ClientNeeds
from services.matching.domain.ranking import RankedTherapist, rank_directory
from services.matching.domain.scoring import Scorer
from services.matching.domain.therapist import Hold
from services.matching.metrics import HOLDS_REFUSED, PROPOSALS, RANKING_SECONDS
from services.matching.store import clients as client_store
from services.matching.store import journal
from services.matching.store.proposals import new_proposal, proposal_of, proposed_event
from services.matching.store.therapists import holds_for, place_hold
from shared.events.common import Candidate, SessionFormat
from shared.events.envelope import Envelope, new_event
from shared.events.models import IntakeCompleted, MatchProposed
from shared.observability.logs import get_logger
from shared.storage import AlreadyExists, Document

log = get_logger(__name__)

INTAKE = "intake"
RANKING_ROUNDS = 4
"""Rankings per proposal at most: a hold refused means another replica got there first,
and the next ranking (on the fresher model) is enough unless many race for the same few."""
NONE_HELD = "no_candidate_could_be_held"
"""Eligible therapists were found but every hold was refused (others filled them meanwhile)."""
SHORTLIST_SLACK = 1
"""Extra candidates ranked beyond those still wanted, so one refused hold needs no re-ranking."""


@dataclass(frozen=True, slots=True)
class ProposeMatches:
    """Make (or find) proposal `match_id` for the client, from `intake`."""

    client_id: str
    intake: IntakeCompleted
    match_id: str
    cause: Envelope
    excluded: frozenset[str] = frozenset()
    origin: str = INTAKE
    predecessor: str | None = None
    sequence: int = 1
    correlation_id: str | None = None
    """The client's journey, when the cause is not part of it (a waitlist trigger)."""
    unless_empty: bool = False
    """Make nothing (None) when nobody could be held."""
    new: bool = False
    """The proposal cannot exist yet, so step 1 needs no read: the caller knows its cause was
    never recorded where it is stored before any proposal it makes (the client's record)."""

    @property
    def journey(self) -> str:
        return self.correlation_id or self.cause.correlation_id


async def propose_matches(
    command: ProposeMatches, ctx: MatchingContext, *, alongside: Awaitable[object] | None = None
) -> Document | None:
    """The stored proposal (None when `unless_empty` and nobody could be held).

    `alongside` is a write of the caller's that must be stored before the proposal is (and
    its event published); it runs while ranking and holds do.
    """
    written_alongside = asyncio.ensure_future(alongside) if alongside is not None else None
    try:
        return await _propose(command, ctx, written_alongside)
    except BaseException:
        if written_alongside is not None:  # it finishes on its own; its outcome is not needed
            written_alongside.add_done_callback(_observed)
        raise


def _observed(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()


async def _propose(
    command: ProposeMatches, ctx: MatchingContext, alongside: asyncio.Future[object] | None
) -> Document | None:
    existing = None if command.new else await ctx.proposals.get(command.match_id)
    if existing is not None:
        await _written(alongside)
        await _settle(existing, ctx)
        return existing

    now = ctx.clock()
    expires_at = now + ctx.policy.proposal_ttl
    needs = ClientNeeds.from_intake(command.intake)
    changed: list[str] = []
    moment = ProposalRound(now=now, match_id=command.match_id, excluded=command.excluded)
    held, reasons = await _hold_best(command, needs, moment, expires_at, changed, ctx)
    if not held and command.unless_empty:
        await _written(alongside)
        PROPOSALS.labels(command.origin, "none_made").inc()
        return None
    proposed = _proposed(command, needs, held, reasons, expires_at)
    await _written(alongside)
    stored, created = await _insert(command, proposed, now, ctx)
    await ctx.directory.record(journal.ref(journal.THERAPISTS, t) for t in changed)
    await _settle(stored, ctx, first_time=created)
    _report(command, proposed)
    return stored


async def _written(alongside: asyncio.Future[object] | None) -> None:
    if alongside is not None:
        await alongside


async def _hold_best(
    command: ProposeMatches,
    needs: ClientNeeds,
    moment: ProposalRound,
    expires_at: datetime,
    changed: list[str],
    ctx: MatchingContext,
) -> tuple[list[RankedTherapist], tuple[str, ...]]:
    """Rank and hold until `top_k` are held: the held candidates best first, or the empty list's
    reasons. `changed` collects the therapists whose documents changed (for the journal)."""
    k = ctx.policy.top_k
    hold = place_hold(Hold(command.match_id, command.client_id, expires_at), needs, moment)
    held: list[RankedTherapist] = []
    tried: set[str] = set()
    reasons: tuple[str, ...] = ()
    window = ctx.policy.directory_freshness_seconds
    for attempt in range(RANKING_ROUNDS):
        # A first ranking may use a catch-up a moment old; the next ones catch up.
        index = await ctx.directory.current(fresh_within=0.0 if attempt else window)
        scorer = Scorer(
            needs,
            now=moment.now,
            outcomes=index.outcomes,
            weights=ctx.policy.weights,
            match_id=command.match_id,
        )
        with RANKING_SECONDS.time():
            ranking = rank_directory(index, needs, moment, scorer, k + len(tried) + SHORTLIST_SLACK)
        reasons = ranking.reasons
        fresh = [c for c in ranking.candidates if c.therapist_id not in tried]
        refused = False
        while fresh and len(held) < k:
            batch, fresh = fresh[: k - len(held)], fresh[k - len(held) :]
            tried.update(c.therapist_id for c in batch)
            documents = await ctx.directory.change_therapists_together(
                [(c.therapist_id, hold) for c in batch], changed
            )
            for candidate in batch:
                if holds_for(documents.get(candidate.therapist_id), command.match_id):
                    held.append(candidate)
                else:
                    refused = True
                    HOLDS_REFUSED.inc()
        if len(held) == k or not (refused or (window and not attempt)):
            # Done, or nobody else is eligible: a refusal makes a re-ranking worth it, and so
            # does falling short on a directory a moment old (a therapist just registered
            # elsewhere must not leave the client waiting).
            break
    held.sort(key=lambda c: (-round(c.score, 9), c.therapist_id))
    return held, (() if held else reasons or (NONE_HELD,))


def _proposed(
    command: ProposeMatches,
    needs: ClientNeeds,
    held: Sequence[RankedTherapist],
    reasons: Sequence[str],
    expires_at: datetime,
) -> MatchProposed:
    """The match-proposed naming the held candidates, best first (none: why, and the client waits)."""
    candidates = [
        Candidate(
            therapist_id=c.therapist_id,
            rank=position,
            score=round(c.score, 4),
            factors={name: round(part, 4) for name, part in c.factors.items()},
            reasons=list(c.reasons),
            session_format=SessionFormat(c.session_format),
        )
        for position, c in enumerate(held, 1)
    ]
    intake = command.intake
    return MatchProposed(
        match_id=command.match_id,
        client_id=command.client_id,
        intake_id=intake.intake_id,
        candidates=candidates,
        reasons=list(reasons),
        expires_at=expires_at,
        timezone=intake.timezone,
        availability=list(intake.availability),
        session_format=(candidates[0].session_format if candidates else None) or _format_asked(needs),
        risk_level=intake.risk_level,
        origin=command.origin,
        predecessor_match_id=command.predecessor,
        waitlisted=not candidates,
    )


def _format_asked(needs: ClientNeeds) -> SessionFormat:
    return SessionFormat.in_person if needs.format == "in_person" else SessionFormat.video


async def _insert(
    command: ProposeMatches, proposed: MatchProposed, now: datetime, ctx: MatchingContext
) -> tuple[Document, bool]:
    """The proposal and its match-proposed in one write, and whether this call made it; one
    made meanwhile (by a concurrent retry of the same cause, or before, when step 1 was not
    read) is the one returned, as stored."""
    document = new_proposal(
        proposed, sequence=command.sequence, correlation_id=command.journey, created_at=now
    )
    event = new_event(
        proposed,
        source=ctx.policy.source,
        cause=command.cause,
        correlation_id=command.journey,
        discriminator=command.match_id,
        now=now,
    )
    try:
        if await ctx.proposals.insert(document, [event], cause=command.cause):
            return document, True
    except AlreadyExists:
        pass
    return await ctx.proposals.get(command.match_id) or document, False


async def _settle(document: Mapping[str, Any], ctx: MatchingContext, *, first_time: bool = False) -> None:
    """What must exist beside a proposal: its expiry timer, and the client's side of it.

    `first_time`: the proposal was just made, so its expiry timer cannot have fired yet.
    """
    proposal = proposal_of(document)
    if proposal.is_holding and proposal.candidates:
        await ctx.timers.schedule(
            timers.proposal_expiry_id(proposal.match_id),
            timers.PROPOSAL_EXPIRY,
            document["expires_at"],
            {"match_id": proposal.match_id},
            first_time=first_time,
        )
    proposed, made_at = proposed_event(document), document["created_at"]
    client = await client_store.update(
        ctx.clients,
        ctx.waitlist,
        proposal.client_id,
        lambda known: known.settle(proposed, made_at, proposal.sequence),
        now=ctx.clock(),
    )
    wait = client_store.wait_of(client)
    if wait is not None and wait["match_id"] == proposal.match_id:
        await client_store.join_waitlist(ctx.waitlist, client, ctx.clock())


def _report(command: ProposeMatches, proposed: MatchProposed) -> None:
    PROPOSALS.labels(command.origin, "proposed" if proposed.candidates else "empty").inc()
    if not proposed.candidates:
        log.error(
            "operator alert: no eligible therapist for a client",
            alert="matching_no_candidates",
            match_id=command.match_id,
            client_id=command.client_id,
            intake_id=command.intake.intake_id,
            reasons=list(proposed.reasons),
        )
    else:
        log.info(
            "match proposed",
            match_id=command.match_id,
            client_id=command.client_id,
            origin=command.origin,
            therapist_ids=[c.therapist_id for c in proposed.candidates],
        )
