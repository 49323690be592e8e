"""A therapist's sessions (`therapist_sessions/{therapist_id}`), a read model of the client documents.

Slots, the therapist's listing and calendar feed read this one document by `_id` instead
of scanning every client. It is rewritten from a client's document after each change of
that client's sessions or relationship with the therapist (`sync`), which is idempotent: a
crash between the client's write and this one is healed by the next change of that client,
and a slot it still shows as free is refused by the claims, never double booked. It holds
what the therapist may keep (`domain/consent.py`): once the client's care with them ended,
only the sessions that started before the end (none that holds time is ever left out).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from services.scheduling.domain.care import Care, Session
from services.scheduling.domain.consent import shown_to_therapist
from services.scheduling.domain.slots import Booked
from services.scheduling.store.care_documents import session_from_document, session_to_document
from shared.ports import Documents
from shared.storage.documents import Revision


async def sessions_of(store: Documents, therapist_id: str, *, writing: bool = False) -> list[Session]:
    """The therapist's sessions (`writing`: read for a `sync` a moment from now, see `Documents.get`)."""
    document = await store.get(therapist_id, writing=writing)
    return [session_from_document(s) for s in (document or {}).get("sessions") or ()]


async def booked_of(store: Documents, therapist_id: str, *, writing: bool = False) -> list[Booked]:
    """The therapist's sessions that hold their time (what slots must avoid)."""
    return [s.as_booked() for s in await sessions_of(store, therapist_id, writing=writing) if s.holds_time]


async def sync(store: Documents, care: Care, therapist_ids: Iterable[str]) -> None:
    """Make each therapist's document show exactly this client's sessions with them."""
    for therapist_id in sorted(set(therapist_ids)):
        mine = [
            session_to_document(s)
            for s in care.sessions
            if s.therapist_id == therapist_id and shown_to_therapist(care, s)
        ]

        def rewrite(
            current: dict[str, Any] | None, mine: list[dict[str, Any]] = mine, tid: str = therapist_id
        ) -> Revision | None:
            before = list((current or {}).get("sessions") or ())
            others = [s for s in before if s["client_id"] != care.client_id]
            theirs = [s for s in before if s["client_id"] == care.client_id]
            if theirs == mine:
                return None
            sessions = sorted([*others, *mine], key=lambda s: (s["starts_at"], s["session_id"]))
            return Revision({"therapist_id": tid, "sessions": sessions})

        await store.upsert(therapist_id, rewrite)
