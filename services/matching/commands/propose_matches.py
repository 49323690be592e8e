"""Propose therapists to a client: rank on the read model, hold capacity, publish match-proposed.

Steps, each safe to repeat (a redelivered event, a retried request or a re-fired timer
runs them again):

1. The proposal exists already (its id derives from its cause): make sure its expiry timer
   and the client's side of it exist, and return it. No second proposal, ever.
2. Rank on this replica's in-process directory, caught up with the shared journal.
3. Hold capacity on the best candidates, under each therapist document's lease (the
   holds of one batch at once: different documents), after every hard constraint is
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
from collections.abc import Awaitable, Mapping
from datetime import datetime
from typing import Any

from services.matching.commands.update_client import join_waitlist, update_client
from services.matching.context import Matching
from services.matching.domain.filters import ProposalRound
from services.matching.domain.needs import ClientNeeds
from services.matching.domain.ranking import RankedTherapist, rank_directory
from services.matching.domain.scoring import Scorer
from services.matching.metrics import HOLDS_REFUSED, PROPOSALS, RANKING_SECONDS
from services.matching.store import clients as client_state
from services.matching.store import journal, proposals
from services.matching.store.therapists import holds_for, place_hold
from shared.events.common import Candidate, SessionFormat
from shared.events.envelope import Envelope, deterministic_event_id, new_event
from shared.events.models import IntakeCompleted, MatchProposed
from shared.observability.logs import get_logger
from shared.storage import AlreadyExists, Document

log = get_logger(__name__)

EXPIRY_TIMER = "proposal-expiry"
INTAKE = "intake"
RANKING_ROUNDS = 4
"""Rankings per proposal at most: a hold refused means another replica got there first,
and the next ranking (on the fresher model) is enough unless many race for the same few."""
NONE_HELD = "no_candidate_could_be_held"
"""Eligible therapists were found but every hold was refused (others filled them meanwhile)."""
SHORTLIST_SLACK = 1
"""Extra candidates ranked beyond those still wanted, so one refused hold needs no re-ranking."""


def match_id_for(*parts: str) -> str:
    """A proposal's id, derived from what caused it (e.g. ("intake", intake_id))."""
    return deterministic_event_id("match", *parts)


def expiry_timer_id(match_id: str) -> str:
    return f"{EXPIRY_TIMER}:{match_id}"


async def propose_matches(
    matching: Matching,
    client_id: str,
    intake: IntakeCompleted,
    *,
    match_id: str,
    cause: Envelope,
    excluded: frozenset[str] = frozenset(),
    origin: str = INTAKE,
    predecessor: str | None = None,
    sequence: int = 1,
    correlation_id: str | None = None,
    unless_empty: bool = False,
    alongside: Awaitable[object] | None = None,
) -> Document | None:
    """Make (or find) proposal `match_id` for the client; returns the stored proposal.

    `alongside` is a write of the caller's that must be stored before the proposal is
    (and its event published); it runs while ranking and holds do. `correlation_id`: the
    client's journey, when the cause is not part of it (a waitlist trigger). With
    `unless_empty`, nothing is made (None) when nobody could be held.
    """
    written_alongside = asyncio.ensure_future(alongside) if alongside is not None else None
    try:
        return await _propose(
            matching,
            client_id,
            intake,
            match_id=match_id,
            cause=cause,
            excluded=excluded,
            origin=origin,
            predecessor=predecessor,
            sequence=sequence,
            correlation_id=correlation_id or cause.correlation_id,
            unless_empty=unless_empty,
            written_alongside=written_alongside,
        )
    except BaseException:
        if written_alongside is not None:  # it finishes on its own; its outcome is not needed
            written_alongside.add_done_callback(_observed)
        raise


def _observed(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()


async def _propose(
    matching: Matching,
    client_id: str,
    intake: IntakeCompleted,
    *,
    match_id: str,
    cause: Envelope,
    excluded: frozenset[str],
    origin: str,
    predecessor: str | None,
    sequence: int,
    correlation_id: str,
    unless_empty: bool,
    written_alongside: asyncio.Future[object] | None,
) -> Document | None:
    existing = await matching.proposals.get(match_id)
    if existing is not None:
        if written_alongside is not None:
            await written_alongside
        await _settle(matching, existing)
        return existing

    now = matching.clock()
    policy = matching.policy
    needs = ClientNeeds.from_intake(intake)
    moment = ProposalRound(now=now, match_id=match_id, excluded=excluded)
    expires_at = now + policy.proposal_ttl
    changed: list[str] = []
    held, reasons = await _hold_best(matching, needs, moment, expires_at, changed)
    if not held and unless_empty:
        if written_alongside is not None:
            await written_alongside
        PROPOSALS.labels(origin, "none_made").inc()
        return None

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
    proposed = MatchProposed(
        match_id=match_id,
        client_id=client_id,
        intake_id=intake.intake_id,
        candidates=candidates,
        reasons=list(reasons),
        expires_at=expires_at,
        timezone=intake.timezone,
        availability=list(intake.availability),
        session_format=(candidates[0].session_format if candidates else None) or _format_asked(needs),
        risk_level=intake.risk_level,
        origin=origin,
        predecessor_match_id=predecessor,
        waitlisted=not candidates,
    )
    document = {
        "_id": match_id,
        "client_id": client_id,
        "intake_id": intake.intake_id,
        "status": proposals.PROPOSED,
        "origin": origin,
        "predecessor": predecessor,
        "sequence": sequence,
        "waitlisted": not candidates,
        "candidates": [c.model_dump(mode="json") for c in candidates],
        "reasons": list(reasons),
        "session_format": proposed.session_format.value,
        "created_at": now,
        "expires_at": expires_at,
        "correlation_id": correlation_id,
        "declined_therapist_ids": [],
    }
    event = new_event(
        proposed,
        source=policy.source,
        cause=cause,
        correlation_id=correlation_id,
        discriminator=match_id,
        now=now,
    )
    if written_alongside is not None:
        await written_alongside
    try:
        await matching.proposals.insert(document, [event], cause=cause)
        stored: Document = document
    except AlreadyExists:  # made meanwhile by a concurrent retry of the same cause
        stored = await matching.proposals.get(match_id) or document
    await matching.directory.record(journal.ref(journal.THERAPISTS, t) for t in changed)
    await _settle(matching, stored)
    PROPOSALS.labels(origin, "proposed" if candidates else "empty").inc()
    if not candidates:
        log.error(
            "operator alert: no eligible therapist for a client",
            alert="matching_no_candidates",
            match_id=match_id,
            client_id=client_id,
            intake_id=intake.intake_id,
            reasons=list(reasons),
        )
    else:
        log.info(
            "match proposed",
            match_id=match_id,
            client_id=client_id,
            origin=origin,
            therapist_ids=[c.therapist_id for c in candidates],
        )
    return stored


async def _hold_best(
    matching: Matching, needs: ClientNeeds, moment: ProposalRound, expires_at: datetime, changed: list[str]
) -> tuple[list[RankedTherapist], tuple[str, ...]]:
    """Rank and hold until `top_k` are held: the held candidates best first, or the empty list's
    reasons. `changed` collects the therapists whose documents changed (for the journal)."""
    assert moment.match_id is not None
    match_id = moment.match_id
    k = matching.policy.top_k
    held: list[RankedTherapist] = []
    tried: set[str] = set()
    reasons: tuple[str, ...] = ()
    for _ in range(RANKING_ROUNDS):
        index = await matching.directory.current()
        scorer = Scorer(
            needs, now=moment.now, outcomes=index.outcomes, weights=matching.policy.weights, match_id=match_id
        )
        with RANKING_SECONDS.time():
            ranking = rank_directory(index, needs, moment, scorer, k + len(tried) + SHORTLIST_SLACK)
        reasons = ranking.reasons
        fresh = [c for c in ranking.candidates if c.therapist_id not in tried]
        refused = False
        while fresh and len(held) < k:
            batch, fresh = fresh[: k - len(held)], fresh[k - len(held) :]
            tried.update(c.therapist_id for c in batch)
            hold = place_hold(match_id, needs.client_id, expires_at, needs, moment)
            documents = await asyncio.gather(
                *(matching.change_therapist(c.therapist_id, hold, changed) for c in batch)
            )
            for candidate, document in zip(batch, documents, strict=True):
                if holds_for(document, match_id):
                    held.append(candidate)
                else:
                    refused = True
                    HOLDS_REFUSED.inc()
        if len(held) == k or not refused:
            break  # done, or nobody else is eligible (a refusal alone makes a re-ranking worth it)
    held.sort(key=lambda c: (-round(c.score, 9), c.therapist_id))
    return held, (() if held else reasons or (NONE_HELD,))


async def _settle(matching: Matching, proposal: Mapping[str, Any]) -> None:
    """What must exist beside a proposal: its expiry timer, and the client's side of it."""
    match_id = proposal["_id"]
    if proposal["status"] in proposals.HOLDING and proposal.get("candidates"):
        await matching.timers.schedule(
            expiry_timer_id(match_id), EXPIRY_TIMER, proposal["expires_at"], {"match_id": match_id}
        )
    settled = client_state.settle_proposal(proposal, matching.clock())
    client = await update_client(matching, proposal["client_id"], settled)
    wait = client_state.wait_of(client)
    if wait is not None and wait["match_id"] == match_id:
        await join_waitlist(matching, client)


def _format_asked(needs: ClientNeeds) -> SessionFormat:
    return SessionFormat.in_person if needs.format == "in_person" else SessionFormat.video


async def propose_again(
    matching: Matching,
    client_id: str,
    *,
    match_id: str,
    cause: Envelope,
    origin: str,
    predecessor: str | None,
    sequence: int,
) -> Document | None:
    """A new proposal from the client's latest intake, without the therapists excluded for them.

    None when there is nothing to propose from, or the client had `max_proposals_per_intake`
    already (an operator looks at such a client; a loop with scheduling stops here).
    """
    client = await matching.clients.get(client_id)
    if client is None or not client.get("intake"):
        log.warning("no intake to propose from", client_id=client_id, predecessor=predecessor)
        return None
    if sequence > matching.policy.max_proposals_per_intake:
        log.error(
            "operator alert: proposals per intake exhausted",
            alert="matching_proposals_exhausted",
            client_id=client_id,
            match_id=predecessor,
            proposals=sequence - 1,
        )
        return None
    return await propose_matches(
        matching,
        client_id,
        client_state.intake_of(client),
        match_id=match_id,
        cause=cause,
        excluded=client_state.excluded_ids(client),
        origin=origin,
        predecessor=predecessor,
        sequence=sequence,
    )
