"""A therapist's sessions (`therapist_sessions/{therapist_id}`), a read model of the client documents.

Slots, the therapist's listing and calendar feed read this one document by `_id` instead
of scanning every client. It is rewritten from a client's document after each change of
that client's sessions or relationship with the therapist (`sync`), which is idempotent: a
crash between the client's write and this one is healed by the next change of that client,
and a slot it still shows as free is refused by the claims, never double booked. It holds
what the therapist may keep (`domain/consent.py`): once the client's care with them ended,
only the sessions that started before the end (none that holds time is ever left out).

Its size follows the therapist's caseload, not their years of practice: every booking reads
and rewrites it whole, so it holds the sessions ending from `LISTED_PAST` ago on (those still
to come, and the recent past a clinician looks back on to record attendance or bill a month),
and each session without its slot claims (`claims`: the client document keeps them, and
releasing a session's time reads them there). A rewrite leaves out what ended before that;
the client documents still hold every session (the client's own listing shows them all).
Before (issue 18) every session a therapist ever had stayed here, claims and all: about
1.2 KB each, read and written twice per booking, so a busy practice's bookings slowed month
after month.

Each entry is also stored compact (`_compact`): without the therapist's id (the document's
own), without fields that are empty (None, no offered slots, revision 0: most of a booked
session's cancellation and attendance fields) and without those equal to their twin (a busy
span that is the session's own, the therapist's zone where it is the client's, an update time
that is the booking's); reading fills them back (`_expanded`), so a session reads the same
either way, and entries written in the full form before read as they always did. A booked
introduction in the journey benchmark went from 724 to 438 bytes: a calendar of 76 of them,
read and rewritten by every booking with that therapist, from 55 KB to 33 KB.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from services.scheduling.domain.care import Care, Session
from services.scheduling.domain.consent import shown_to_therapist
from services.scheduling.domain.slots import Booked
from services.scheduling.store.care_documents import session_from_document, session_to_document
from shared.ports import Documents
from shared.storage.documents import Revision

LISTED_PAST = timedelta(weeks=8)
"""How long after its end a session stays in the therapist's listing and calendar feed."""

_LEFT_OUT = ("claims", "therapist_id")
"""Fields of a session the read model does not keep (read back as empty, and as the document's
therapist): the client document keeps the claims."""

_FILLED: dict[str, Any] = {
    "series_id": None,
    "timezone": None,
    "format": None,
    "join_url": None,
    "revision": 0,
    "offered_slots": [],
}
"""What a compact entry reads as where it has no such field: left out when it holds just this
(or None). The optional fields `session_from_document` reads with `.get` default to None."""

_TWINS = {
    "busy_from": "starts_at",
    "busy_to": "ends_at",
    "therapist_timezone": "timezone",
    "updated_at": "booked_at",
}
"""Fields stored only where they differ from their twin (a busy span that is the session's
own, the therapist's zone where it is the client's, a session never changed since booked)."""


async def sessions_of(
    store: Documents, therapist_id: str, *, now: datetime | None = None, writing: bool = False
) -> list[Session]:
    """The therapist's sessions (with `now`: only those ending from `LISTED_PAST` before it on;
    `writing`: read for a `sync` a moment from now, see `Documents.get`). Their `claims` are
    not kept here: read a session from its client's document to let its time go."""
    document = await store.get(therapist_id, writing=writing)
    entries = (document or {}).get("sessions") or ()
    return [
        session_from_document(_expanded(s, therapist_id)) for s in entries if now is None or is_listed(s, now)
    ]


async def booked_of(store: Documents, therapist_id: str, *, writing: bool = False) -> list[Booked]:
    """The therapist's sessions that hold their time (what slots must avoid)."""
    return [s.as_booked() for s in await sessions_of(store, therapist_id, writing=writing) if s.holds_time]


def is_listed(entry: Mapping[str, Any], now: datetime) -> bool:
    """Whether a stored session still belongs in the read model: it ended `LISTED_PAST` ago or later."""
    ends_at: datetime = entry["ends_at"]
    return ends_at >= now - LISTED_PAST


def listed(session: Session) -> dict[str, Any]:
    """A session as the read model keeps it: without what only its client's document needs."""
    return _compact(session_to_document(session))


async def sync(store: Documents, care: Care, therapist_ids: Iterable[str], *, now: datetime) -> None:
    """Make each therapist's document show exactly this client's listed sessions with them,
    leaving out (when it changes) every session that ended before `LISTED_PAST` ago."""
    since = now - LISTED_PAST
    for therapist_id in sorted(set(therapist_ids)):
        mine = [
            listed(s)
            for s in care.sessions
            if s.therapist_id == therapist_id and shown_to_therapist(care, s) and s.ends_at >= since
        ]

        def rewrite(
            current: dict[str, Any] | None, mine: list[dict[str, Any]] = mine, tid: str = therapist_id
        ) -> Revision | None:
            before = list((current or {}).get("sessions") or ())
            theirs = [_compact(s) for s in before if s["client_id"] == care.client_id and is_listed(s, now)]
            if theirs == mine:
                return None  # what ended since waits for the next change: no write for it alone
            others = [_compact(s) for s in before if s["client_id"] != care.client_id and is_listed(s, now)]
            sessions = sorted([*others, *mine], key=lambda s: (s["starts_at"], s["session_id"]))
            return Revision({"therapist_id": tid, "sessions": sessions})

        await store.upsert(therapist_id, rewrite)


def _compact(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A session as stored here: without the fields the read model does not keep, the
    therapist's id, empty fields and fields equal to their twin (also applied to an entry
    written in the full form before, when its calendar is next rewritten)."""
    return {
        k: v
        for k, v in entry.items()
        if k not in _LEFT_OUT and (v != entry.get(_TWINS[k]) if k in _TWINS else not _empty(k, v))
    }


def _empty(key: str, value: Any) -> bool:
    """Whether `_compact` leaves the field out: nothing in it, or what `_FILLED` gives back."""
    return value is None or (key in _FILLED and value == _FILLED[key])


def _expanded(entry: Mapping[str, Any], therapist_id: str) -> dict[str, Any]:
    """A stored entry with what `_compact` left out filled back (a full one is unchanged)."""
    full = {**_FILLED, "therapist_id": therapist_id, **entry}
    for field, twin in _TWINS.items():
        full.setdefault(field, full.get(twin))
    return full
