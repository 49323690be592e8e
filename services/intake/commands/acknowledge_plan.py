"""The client acknowledges the current version of their treatment plan.

Plan versions are immutable documents (each is the record of what was agreed), so the
acknowledgement lives in the client's record: version → when. Only the current version
can be acknowledged (an older one was replaced before the client saw it, a newer one is
not theirs to acknowledge yet); acknowledging it again keeps the first time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.intake.context import IntakeContext
from services.intake.store.client_records import client_record, record_acknowledgement, record_of
from services.intake.store.treatment_plans import latest_version, version_id
from shared.clock import stored_instant
from shared.refusals import Conflict
from shared.storage import Document

NOT_CURRENT_VERSION = "not_current_version"


@dataclass(frozen=True, slots=True)
class AcknowledgePlan:
    client_id: str
    version: int
    """The version the client read: it must be the current one."""
    now: datetime


async def acknowledge_plan(command: AcknowledgePlan, ctx: IntakeContext) -> tuple[Document, datetime]:
    """The acknowledged version and when the client first acknowledged it."""
    client_id, version = command.client_id, command.version
    record = await client_record(ctx.clients, client_id)
    current = await latest_version(ctx.plans, client_id, known=record.plan_version)
    document = await ctx.plans.get(version_id(client_id, version)) if version == current else None
    if document is None:
        raise Conflict(
            f"only the current plan can be acknowledged (version {current})"
            if current
            else "the client has no treatment plan yet",
            code=NOT_CURRENT_VERSION,
        )
    stored = await ctx.clients.upsert(
        client_id, record_acknowledgement(client_id, version, stored_instant(command.now))
    )
    when = (record_of(stored) if stored is not None else record).acknowledged_at(version)
    assert when is not None  # just recorded, or recorded before
    return document, when
