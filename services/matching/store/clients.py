"""The `clients` collection: what matching keeps per client, `_id = client_id`.

    {_id, intake: {IntakeCompleted data}, correlation_id,
     excluded: [{therapist_id, reason}],   never proposed to this client again
     match_ids: [...], current_match_id, replaced_match_id (by the latest intake's),
     therapist_id (in care with, once booked),
     relationships: [...],                 the care relationships (shared.care.relationship)
     waitlist: {match_id, since, sequence} | None,   waiting on this empty proposal
     updated_at}

The rules are `domain/client.py`'s; this module maps the document to a `Client` and back,
writing only the fields a move changed. The proposals are listed from here (by `_id`)
rather than by a query over all proposals. `waitlist` is the truth about whether the
client waits; `store/waitlist.py` keeps the order, in step through `update`/`upsert` below.

The client's document is written first, the order follows: a client who starts to wait
is added to it (`join_waitlist`, from the document as stored, so a retry adds the very
same entry), and a write that ends their wait takes them off it. A crash between the two
leaves at most a stale entry, which the next trigger that meets it drops (it never
proposes from the list alone); a client waits in the order only once their own document
says so, so no trigger can drop an entry that is about to become true.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from services.matching.domain.client import Client, Exclusion, Wait
from services.matching.store import waitlist
from shared.care.relationship import CareRelationships
from shared.events.envelope import Envelope
from shared.events.models import IntakeCompleted
from shared.ports import Documents
from shared.storage import Document
from shared.storage.documents import Creation, Revision

COLLECTION = "clients"

RELATIONSHIPS = "relationships"
WAITLIST = "waitlist"

Move = Callable[[Client], Client]
"""A move of `domain/client.py`, e.g. `lambda client: client.leave_waitlist()`."""


def client_of(document: Mapping[str, Any] | None, client_id: str) -> Client:
    """The client as stored (a client matching does not know yet: nothing but their id)."""
    if document is None:
        return Client(client_id)
    wait = wait_of(document)
    return Client(
        client_id=client_id,
        intake=intake_of(document) if document.get("intake") else None,
        correlation_id=document.get("correlation_id"),
        excluded=tuple(Exclusion(e["therapist_id"], e["reason"]) for e in document.get("excluded", ())),
        match_ids=tuple(document.get("match_ids", ())),
        current_match_id=document.get("current_match_id"),
        replaced_match_id=document.get("replaced_match_id"),
        therapist_id=document.get("therapist_id"),
        care=care_of(document),
        wait=None if wait is None else Wait(wait["match_id"], wait["since"], int(wait.get("sequence", 1))),
    )


def intake_of(client: Mapping[str, Any]) -> IntakeCompleted:
    return IntakeCompleted.model_validate(client["intake"])


def care_of(client: Mapping[str, Any] | None) -> CareRelationships:
    """The client's care relationships as matching knows them (none for an unknown client)."""
    return CareRelationships.from_document((client or {}).get(RELATIONSHIPS))


def wait_of(client: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """`{match_id, since, sequence}` while the client waits on an empty proposal, else None."""
    found: Mapping[str, Any] | None = (client or {}).get(WAITLIST)
    return found


def _as_is(value: Any) -> Any:
    return value


_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "intake": ("intake", lambda intake: None if intake is None else intake.model_dump(mode="json")),
    "correlation_id": ("correlation_id", _as_is),
    "excluded": (
        "excluded",
        lambda excluded: [{"therapist_id": e.therapist_id, "reason": e.reason} for e in excluded],
    ),
    "match_ids": ("match_ids", list),
    "current_match_id": ("current_match_id", _as_is),
    "replaced_match_id": ("replaced_match_id", _as_is),
    "therapist_id": ("therapist_id", _as_is),
    "care": (RELATIONSHIPS, lambda care: care.to_document()),
    "wait": (
        WAITLIST,
        lambda wait: (
            None
            if wait is None
            else {"match_id": wait.match_id, "since": wait.since, "sequence": wait.sequence}
        ),
    ),
}
"""Each attribute of `Client` but its id: its document field and how it is written there."""


def changing(client_id: str, move: Move, now: datetime) -> Creation:
    """The write of `move` on the client as stored now: the fields it changed (every field of
    a client created by it); None when it changes nothing."""

    def change(current: Document | None) -> Revision | None:
        before = client_of(current, client_id)
        after = move(before)
        if after == before:
            return None
        written = {
            key: encode(getattr(after, name))
            for name, (key, encode) in _FIELDS.items()
            if current is None or getattr(after, name) != getattr(before, name)
        }
        return Revision({**(current or {}), **written, "updated_at": now})

    return change


async def update(
    clients: Documents,
    waitlist_store: Documents,
    client_id: str,
    move: Move,
    *,
    now: datetime,
    cause: Envelope | None = None,
) -> Document | None:
    """Apply `move` to a client matching knows (None, nothing written, for one it does not)."""
    changed = changing(client_id, move, now)

    def existing(current: Document | None) -> Revision | None:
        return None if current is None else changed(current)

    return await upsert(clients, waitlist_store, client_id, existing, now=now, cause=cause)


async def upsert(
    clients: Documents,
    waitlist_store: Documents,
    client_id: str,
    change: Creation,
    *,
    now: datetime,
    cause: Envelope | None = None,
) -> Document | None:
    """Apply `change` to the client's document, or create it; a wait it ends leaves the order."""
    ended: list[str] = []

    def noting(current: Document | None) -> Revision | None:
        revision = change(current)
        before = wait_of(current)
        if revision is not None and before is not None:
            after = wait_of(revision.document)
            if after is None or after["match_id"] != before["match_id"]:
                ended.append(before["match_id"])
        return revision

    document = await clients.upsert(client_id, noting, cause=cause)
    for match_id in ended:
        await waitlist_store.update(waitlist.WAITLIST_ID, waitlist.drop(client_id, match_id, now))
    return document


async def join_waitlist(waitlist_store: Documents, client: Mapping[str, Any] | None, now: datetime) -> None:
    """Put the client in the waitlist's order, if their document says they wait (idempotent)."""
    waiting = client_of(client, str(client["_id"])).waiting if client is not None else None
    if waiting is not None:
        await waitlist_store.upsert(waitlist.WAITLIST_ID, waitlist.join(waiting, now))
