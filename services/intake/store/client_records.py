"""The client's record (`clients`, `_id = client_id`): the index of everything kept for them.

It holds ids, never content: the intakes, check-ins and clinicians of one client, and
the latest treatment plan version, so every other read is by `_id`. Each change is
idempotent (adding an id twice keeps one), so a redelivered event or a retried request
writes nothing new. The content documents are the source of truth: an id is listed here
before its document is written, so a crash in between leaves an id without a document,
which readers skip, and never a document nobody can find.
"""

from __future__ import annotations

from shared.ports import Documents
from shared.storage import Document
from shared.storage.documents import Creation, Revision


def empty_record(client_id: str) -> Document:
    return {
        "client_id": client_id,
        "intake_ids": [],
        "check_in_ids": [],
        "therapist_ids": [],
        "plan_version": 0,
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


def record_therapist(client_id: str, therapist_id: str) -> Creation:
    """A therapist who has sessions booked with the client is one of their clinicians."""
    return _adding(client_id, "therapist_ids", therapist_id)


def record_plan_version(client_id: str, version: int) -> Creation:
    def change(current: Document | None) -> Revision | None:
        record = current if current is not None else empty_record(client_id)
        if current is not None and int(record.get("plan_version", 0)) >= version:
            return None
        return Revision({**record, "plan_version": version})

    return change


async def client_record(clients: Documents, client_id: str) -> Document:
    """The client's record, or an empty one for a client nothing is known of yet."""
    return await clients.get(client_id) or empty_record(client_id)


def therapists_of(record: Document) -> list[str]:
    return [str(therapist) for therapist in record.get("therapist_ids", [])]
