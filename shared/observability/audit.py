"""The audit trail of reads of clinical data (DESIGN §8, HIPAA audit controls).

Every read of clinical data by anyone (client, clinician, admin, service) is recorded as
an insert-only document in the service's `audit` collection and as a log line: who
(subject and role), what (action, resource type and id), when, and for which request
or journey. The record holds ids only, never the data that was read.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.observability.logs import get_logger

log = get_logger("audit")


@dataclass(frozen=True, slots=True)
class Access:
    """One access to clinical data: who (subject, role), what (action, resource, id), for whom.

    `action` is `read` or a write (`create`, `write`, ...) for what was done, or `refused`
    for an attempt the care relationship did not allow (every grant and refusal is kept).
    """

    actor: str
    role: str
    action: str
    resource: str
    resource_id: str
    client_id: str | None = None
    correlation_id: str | None = None
    basis: str | None = None
    """Why access was granted or refused: the caller's care relationship (`in_care`,
    `proposed`, `ended`, ...), `own_record`, or the role (`admin`, `service`)."""


class AuditLog:
    def __init__(self, collection: AsyncCollection[dict[str, Any]], *, service: str) -> None:
        self._collection = collection
        self._service = service

    async def record(self, access: Access) -> None:
        entry = {
            "_id": str(uuid.uuid4()),
            "at": datetime.now(UTC),
            "service": self._service,
            **asdict(access),
        }
        await self._collection.insert_one(entry)
        log.info(
            "clinical data accessed",
            audit_id=entry["_id"],
            actor=access.actor,
            role=access.role,
            action=access.action,
            resource=access.resource,
            resource_id=access.resource_id,
            client_id=access.client_id,
            basis=access.basis,
        )
