"""The client's record (`clients`, `_id = client_id`) as a document, and its changes as writes.

    {_id, client_id, intake_ids: [...], check_in_ids: [...], relationships: [...],
     plan_version, plan_acknowledgements: {"<version>": <when>}}

What may change and how is `domain.client_record.ClientRecord`'s; here each change becomes
a `Creation` that writes only when the record changed. The content documents are the
source of truth: an id is listed here before its document is written, so a crash in
between leaves an id without a document, which readers skip, and never a document nobody
can find.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from types import MappingProxyType

from pydantic import BaseModel

from services.intake.domain.client_record import ClientRecord
from shared.care.relationship import CareRelationships
from shared.ports import Documents
from shared.storage import Document
from shared.storage.documents import Creation, Revision

RELATIONSHIPS = "relationships"
ACKNOWLEDGEMENTS = "plan_acknowledgements"


def record_of(document: Document) -> ClientRecord:
    acknowledged = document.get(ACKNOWLEDGEMENTS) or {}
    return ClientRecord(
        client_id=str(document["client_id"]),
        intake_ids=tuple(str(i) for i in document.get("intake_ids", [])),
        check_in_ids=tuple(str(i) for i in document.get("check_in_ids", [])),
        care=CareRelationships.from_document(document.get(RELATIONSHIPS)),
        plan_version=int(document.get("plan_version", 0)),
        acknowledgements=MappingProxyType({int(v): at for v, at in acknowledged.items()}),
    )


def document_of(record: ClientRecord, current: Document | None = None) -> Document:
    """`record` in stored form, over `current` (whatever else it holds, e.g. `_id`, is kept)."""
    return {
        **(current or {}),
        "client_id": record.client_id,
        "intake_ids": list(record.intake_ids),
        "check_in_ids": list(record.check_in_ids),
        RELATIONSHIPS: record.care.to_document(),
        "plan_version": record.plan_version,
        ACKNOWLEDGEMENTS: {str(version): at for version, at in record.acknowledgements.items()},
    }


async def client_record(clients: Documents, client_id: str) -> ClientRecord:
    """The client's record, or an empty one for a client nothing is known of yet."""
    found = await clients.get(client_id)
    return record_of(found) if found is not None else ClientRecord(client_id)


def _changing(client_id: str, change: Callable[[ClientRecord], ClientRecord]) -> Creation:
    """A write of `change` to the record; none when it changes nothing (no record is created then)."""

    def write(current: Document | None) -> Revision | None:
        before = record_of(current) if current is not None else ClientRecord(client_id)
        after = change(before)
        return None if after == before else Revision(document_of(after, current))

    return write


def record_intake(client_id: str, intake_id: str) -> Creation:
    return _changing(client_id, lambda record: record.with_intake(intake_id))


def record_check_in(client_id: str, check_in_id: str) -> Creation:
    return _changing(client_id, lambda record: record.with_check_in(check_in_id))


def record_care_event(client_id: str, event: BaseModel, at: datetime) -> Creation:
    """Fold an event that moves a care relationship (`at`: its `ce_time`) into the record."""
    return _changing(client_id, lambda record: record.following([(event, at)]))


def record_plan_version(
    client_id: str, version: int, updates: Sequence[tuple[BaseModel, datetime]] = ()
) -> Creation:
    return _changing(client_id, lambda record: record.with_plan_version(version, updates))


def record_acknowledgement(client_id: str, version: int, at: datetime) -> Creation:
    return _changing(client_id, lambda record: record.acknowledging(version, at))
