"""A client completed an intake: keep it, and propose therapists (`propose_matches`).

The client's record is read first (exclusions, the proposal a new intake replaces, which
becomes the new one's predecessor and whose holds go back); an older intake delivered late
changes nothing. The write recording the intake (linking the proposal, ending a wait on
the waitlist) runs while ranking and holds do, and is stored before the proposal is, so a
client who sees the proposal can decline it at once. The write is idempotent (same intake,
same proposal). Hence an intake the record does not know yet cannot have a proposal, and
the proposal is not looked for (one read less per intake).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.matching.commands.propose_matches import INTAKE, ProposeMatches, propose_matches
from services.matching.commands.release_holds import ReleaseHolds, release_holds
from services.matching.context import MatchingContext
from services.matching.domain.proposal import match_id_for
from services.matching.store import clients as client_store
from services.matching.store.proposals import moving, proposal_of
from shared.events.envelope import Envelope
from shared.events.models import IntakeCompleted
from shared.observability.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ProposeForIntake:
    intake: IntakeCompleted
    cause: Envelope


async def propose_for_intake(command: ProposeForIntake, ctx: MatchingContext) -> None:
    intake = command.intake
    match_id = match_id_for(INTAKE, intake.intake_id)
    # The client's and the proposal's leases in one insert, held while proposing.
    leases = [ctx.clients.lease_of(intake.client_id), ctx.proposals.lease_of(match_id)]
    async with ctx.clients.holding(leases):
        await _propose_for(command, match_id, ctx)


async def _propose_for(command: ProposeForIntake, match_id: str, ctx: MatchingContext) -> None:
    intake, cause = command.intake, command.cause
    # Read for writing: the intake's record below then costs no read.
    found = await ctx.clients.get(intake.client_id, writing=True)
    client = client_store.client_of(found, intake.client_id)
    if client.knows_newer_intake_than(intake):
        log.info("older intake ignored: a newer one was handled", intake_id=intake.intake_id)
        return
    # Recorded already (a redelivery after a crash): the one it replaced is kept.
    replaced = client.replaced_by(match_id)
    new = client.is_new_intake(intake)
    if replaced and new:
        await _supersede(replaced, match_id, ctx)
    now = ctx.clock()
    record = client_store.changing(
        intake.client_id,
        lambda known: known.record_intake(intake, cause.correlation_id, match_id=match_id),
        now,
    )
    await propose_matches(
        ProposeMatches(
            intake.client_id,
            intake,
            match_id,
            cause,
            excluded=client.excluded_ids,
            predecessor=replaced,
            new=new,
        ),
        ctx,
        alongside=client_store.upsert(ctx.clients, ctx.waitlist, intake.client_id, record, now=now),
    )


async def _supersede(match_id: str, by: str, ctx: MatchingContext) -> None:
    """A new intake replaces an open proposal of the last one: its holds go back."""
    document = await ctx.proposals.get(match_id)
    if document is None or not proposal_of(document).is_holding:
        return
    await ctx.proposals.update(match_id, moving(lambda p: p.supersede(ctx.clock(), by=by)))
    await release_holds(ReleaseHolds.of(proposal_of(document)), ctx)
