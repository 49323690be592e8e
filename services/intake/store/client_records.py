"""The client's record (`clients`, `_id = client_id`): the index of everything kept for them.

It holds ids and the client's care relationships, never clinical content: the intakes
and check-ins of one client, the latest treatment plan version and when the client
acknowledged each version, so every other read is by `_id`, and `relationships` (the
care relationship with each therapist, `shared.care.relationship`), which every access
decision reads.

Each change is idempotent (adding an id twice keeps one, folding an event twice changes
nothing), so a redelivered event or a retried request writes nothing new. The content
documents are the source of truth: an id is listed here before its document is written,
so a crash in between leaves an id without a document, which readers skip, and never a
document nobody can find.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel

from shared.care.relationship import CareRelationships
from shared.ports import Documents
from shared.storage import Document
from shared.storage.documents import Creation, Revision

RELATIONSHIPS = "relationships"
ACKNOWLEDGEMENTS = "plan_acknowledgements"


def empty_record(client_id: str) -> Document:
    return {
        "client_id": client_id,
        "intake_ids": [],
        "check_in_ids": [],
        RELATIONSHIPS: [],
        "plan_version": 0,
        ACKNOWLEDGEMENTS: {},
    }


def _adding(client_id: str, field: str, value: str) -> Creation:
    def change(current: Document | None) -> Revision | None:
        record = current if current is not None else empty_record(client_id)
        listed = list(record.get(field, []))
        if value in listed:
            return None if current is not None else Revision(record)
        return Revision({**record, field: [*listed, value]})

    return change


def record_intake(client_id: str, intake_id: str) -> Creation:
    return _adding(client_id, "intake_ids", intake_id)


def record_check_in(client_id: str, check_in_id: str) -> Creation:
    return _adding(client_id, "check_in_ids", check_in_id)


def care_of(record: Document) -> CareRelationships:
    """The client's care relationships, as the record keeps them."""
    return CareRelationships.from_document(record.get(RELATIONSHIPS))


def _folded(record: Document, events: Sequence[tuple[BaseModel, datetime]]) -> Document:
    care = care_of(record)
    for event, at in events:
        care = care.apply(event, at)
    return {**record, RELATIONSHIPS: care.to_document()}


def record_care_event(client_id: str, event: BaseModel, at: datetime) -> Creation:
    """Fold an event that moves a care relationship (`at`: its `ce_time`) into the record.

    An event that moves nothing (a booking by the system, a therapy session's attendance)
    writes nothing, and creates no record for a client not known yet.
    """

    def change(current: Document | None) -> Revision | None:
        record = current if current is not None else empty_record(client_id)
        folded = _folded(record, [(event, at)])
        if care_of(folded) == care_of(record):
            return None
        return Revision(folded)

    return change


def record_plan_version(
    client_id: str, version: int, updates: Sequence[tuple[BaseModel, datetime]] = ()
) -> Creation:
    """The latest plan version, with its `treatment-plan-updated` folded into the relationships.

    `updates` are the events of this version and of any the record had not caught up with,
    so a completed plan ends the care it completes even when its writer crashed before
    updating the record.
    """

    def change(current: Document | None) -> Revision | None:
        record = current if current is not None else empty_record(client_id)
        folded = _folded(record, updates)
        known = int(record.get("plan_version", 0))
        if current is not None and known >= version and care_of(folded) == care_of(record):
            return None
        return Revision({**folded, "plan_version": max(known, version)})

    return change


def record_acknowledgement(client_id: str, version: int, at: datetime) -> Creation:
    """The client acknowledged plan `version` at `at`; the first acknowledgement stands."""

    def change(current: Document | None) -> Revision | None:
        record = current if current is not None else empty_record(client_id)
        acknowledged = dict(record.get(ACKNOWLEDGEMENTS) or {})
        if str(version) in acknowledged:
            return None
        return Revision({**record, ACKNOWLEDGEMENTS: {**acknowledged, str(version): at}})

    return change


def acknowledged_at(record: Document, version: int) -> datetime | None:
    found: datetime | None = (record.get(ACKNOWLEDGEMENTS) or {}).get(str(version))
    return found


async def client_record(clients: Documents, client_id: str) -> Document:
    """The client's record, or an empty one for a client nothing is known of yet."""
    return await clients.get(client_id) or empty_record(client_id)
