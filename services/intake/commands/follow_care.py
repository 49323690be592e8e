"""Follow the client's care relationships from the events that move them (DESIGN §2).

Matching's proposals, acceptances and declines, the client's own booking of an
introduction and the therapist's record of it being held each change what a therapist
may see of the client's record. Every one is folded into the client's record by the
shared state machine, in one write whose cause is the event, so a redelivery changes
nothing and the events' order across topics does not matter (the fold keeps the time of
each relationship's last change; an older event changes nothing). An event that can move
no relationship (`domain.care.may_move_care`) is not folded at all: no lease, no read.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from services.intake.context import IntakeContext
from services.intake.domain.care import may_move_care
from services.intake.store.client_records import record_care_event
from shared.events.envelope import Envelope


@dataclass(frozen=True, slots=True)
class FollowCare:
    client_id: str
    event: BaseModel
    """A `match-proposed`, `match-accepted`, `match-declined`, `session-booked` or
    `session-attendance-recorded`."""
    cause: Envelope
    """The event's envelope: its `ce_time` is when the relationship moved, its id the write's cause."""


async def follow_care(command: FollowCare, ctx: IntakeContext) -> None:
    """Fold the event, at its `ce_time`, into the client's relationships."""
    if not may_move_care(command.event):
        return  # the fold would leave the record as it is: nothing to read or write
    client_id, cause = command.client_id, command.cause
    await ctx.clients.upsert(client_id, record_care_event(client_id, command.event, cause.time), cause=cause)
