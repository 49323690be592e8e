"""The client acknowledges the current version of their treatment plan.

Plan versions are immutable documents (each is the record of what was agreed), so the
acknowledgement lives in the client's record: version → when. Only the current version
can be acknowledged (an older one was replaced before the client saw it, a newer one is
not theirs to acknowledge yet); acknowledging it again keeps the first time.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.intake.commands.refusals import Conflict
from services.intake.commands.times import stored_time
from services.intake.domain.intake import Integer
from services.intake.store import IntakeStores
from services.intake.store.client_records import acknowledged_at, client_record, record_acknowledgement
from services.intake.store.treatment_plans import latest_version, version_id
from shared.storage import Document

NOT_CURRENT_VERSION = "not_current_version"


class Acknowledgement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Integer = Field(ge=1, le=100_000, description="The version the client read: the current one")


async def acknowledge_plan(
    stores: IntakeStores, client_id: str, version: int, *, now: datetime
) -> tuple[Document, datetime]:
    """The acknowledged version and when the client first acknowledged it."""
    record = await client_record(stores.clients, client_id)
    current = await latest_version(stores.plans, client_id, known=int(record.get("plan_version", 0)))
    document = await stores.plans.get(version_id(client_id, version)) if version == current else None
    if document is None:
        raise Conflict(
            f"only the current plan can be acknowledged (version {current})"
            if current
            else "the client has no treatment plan yet",
            code=NOT_CURRENT_VERSION,
        )
    stored = await stores.clients.upsert(
        client_id, record_acknowledgement(client_id, version, stored_time(now))
    )
    when = acknowledged_at(stored or record, version)
    assert when is not None  # just recorded, or recorded before
    return document, when
