"""The client's record (`clients`, `_id = client_id`) as a document, and its changes as writes.

    {_id, client_id, intake_ids: [...], check_in_ids: [...], relationships: [...],
     plan_version, plan_acknowledgements: {"<version>": <when>},
     break_glass: [{therapist_id, granted_at, expires_at, reason_code, reason: <sealed>}]}

What may change and how is `domain.client_record.ClientRecord`'s; here each change becomes
a `Creation` that writes only when the record changed. The content documents are the
source of truth: an id is listed here before its document is written, so a crash in
between leaves an id without a document, which readers skip, and never a document nobody
can find.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from services.intake.domain.client_record import BreakGlassGrant, ClientRecord
from shared.care.access import BreakGlass
from shared.care.relationship import CareRelationships
from shared.ports import Documents
from shared.storage import Document
from shared.storage.documents import Creation, Revision

RELATIONSHIPS = "relationships"
ACKNOWLEDGEMENTS = "plan_acknowledgements"
BREAK_GLASS = "break_glass"


def break_glass_reason_context(client_id: str, therapist_id: str) -> str:
    """Where a break-glass reason is sealed: the client's record, the clinician's grant."""
    return f"clients/{client_id}/break_glass/{therapist_id}/reason"


def _grant_of(document: Mapping[str, Any]) -> BreakGlassGrant:
    access = BreakGlass(
        therapist_id=str(document["therapist_id"]),
        granted_at=document["granted_at"],
        expires_at=document["expires_at"],
    )
    return BreakGlassGrant(access, str(document["reason_code"]), document.get("reason"))


def _grant_document(grant: BreakGlassGrant) -> dict[str, Any]:
    return {
        "therapist_id": grant.access.therapist_id,
        "granted_at": grant.access.granted_at,
        "expires_at": grant.access.expires_at,
        "reason_code": grant.reason_code,
        "reason": dict(grant.sealed_reason) if grant.sealed_reason is not None else None,
    }


def record_of(document: Document) -> ClientRecord:
    acknowledged = document.get(ACKNOWLEDGEMENTS) or {}
    return ClientRecord(
        client_id=str(document["client_id"]),
        intake_ids=tuple(str(i) for i in document.get("intake_ids", [])),
        check_in_ids=tuple(str(i) for i in document.get("check_in_ids", [])),
        care=CareRelationships.from_document(document.get(RELATIONSHIPS)),
        plan_version=int(document.get("plan_version", 0)),
        acknowledgements=MappingProxyType({int(v): at for v, at in acknowledged.items()}),
        break_glass=tuple(_grant_of(grant) for grant in document.get(BREAK_GLASS) or ()),
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
        BREAK_GLASS: [_grant_document(grant) for grant in record.break_glass],
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


def record_break_glass(client_id: str, grant: BreakGlassGrant, now: datetime) -> Creation:
    return _changing(client_id, lambda record: record.breaking_glass(grant, now))
