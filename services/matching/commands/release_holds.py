"""Give back the capacity a proposal held (booked, accepted, declined, failed, expired...)."""

from __future__ import annotations

from dataclasses import dataclass

from services.matching.context import MatchingContext
from services.matching.domain.proposal import Proposal
from services.matching.store.therapists import release_hold


@dataclass(frozen=True, slots=True)
class ReleaseHolds:
    match_id: str
    therapist_ids: tuple[str, ...]

    @classmethod
    def of(cls, proposal: Proposal, *, keep: str | None = None) -> ReleaseHolds:
        """The proposal's hold on every candidate but `keep`."""
        return cls(proposal.match_id, tuple(proposal.candidates_but(keep)))


async def release_holds(command: ReleaseHolds, ctx: MatchingContext) -> None:
    """Releasing twice changes nothing."""
    now = ctx.clock()
    await ctx.directory.change_therapists(
        (therapist_id, release_hold(command.match_id, now)) for therapist_id in command.therapist_ids
    )
