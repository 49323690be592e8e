"""Recipients: the only place contact details live (never in events, logs or deliveries).

Maps a recipient's document to what the rules need (`Contacts`, `Preferences`, zone and
locale); which channels reach them is `domain/channels.py`'s to say. Contact details are
sealed at rest by `SealedRecipients`, the store `app.py` hands out for `recipients`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any

from services.notifications.domain.channels import Contacts
from services.notifications.domain.preferences import Preferences
from services.notifications.store.recent import RecentReads
from shared.events.envelope import Envelope, OutgoingEvent
from shared.ports import Documents
from shared.security.client_keys import ClientKeys
from shared.security.field_encryption import FieldCipher, KeyShredded, is_data_key_id
from shared.storage import Document
from shared.storage.documents import Change, Creation, Revision

DEFAULT_ZONE = "UTC"


def put_recipient(details: Mapping[str, Any], now: datetime) -> Creation:
    """Replace a recipient's details; preferences set separately are kept."""

    def change(current: Document | None) -> Revision:
        kept = {"preferences": current.get("preferences", {})} if current else {"preferences": {}}
        created = current.get("created_at", now) if current else now
        return Revision({**kept, **details, "created_at": created, "updated_at": now})

    return change


def put_preferences(preferences: Preferences, now: datetime) -> Creation:
    """Replace a recipient's preferences; a recipient not registered yet is created bare."""

    def change(current: Document | None) -> Revision:
        base = current or {"created_at": now}
        return Revision({**base, "preferences": preferences.model_dump(mode="json"), "updated_at": now})

    return change


def preferences_of(recipient: Mapping[str, Any] | None) -> Preferences:
    return Preferences.model_validate((recipient or {}).get("preferences") or {})


def contacts_of(recipient: Mapping[str, Any] | None, recipient_id: str) -> Contacts:
    """The addresses a recipient's record holds (none for someone never registered)."""
    found = recipient or {}
    return Contacts(
        recipient_id=recipient_id,
        email=_text(found.get("email")),
        phone=_text(found.get("phone")),
        push_token=_text(found.get("push_token")),
    )


def zone_of(recipient: Mapping[str, Any] | None, fallback: str | None = None) -> str:
    return str((recipient or {}).get("timezone") or fallback or DEFAULT_ZONE)


def locale_of(recipient: Mapping[str, Any] | None) -> str | None:
    return _text((recipient or {}).get("locale"))


def _text(value: object) -> str | None:
    return str(value) if value else None


# ---------------------------------------------------------------------- contact details at rest

CONTACT_FIELDS = ("email", "phone", "push_token")
"""Sealed at rest (DESIGN §8): a client's with their own data key, anyone else's with the master key."""


def contact_context(recipient_id: str, name: str) -> str:
    return f"recipients/{recipient_id}/{name}"


class _NeedsDataKey(Exception):
    """A client's contact details are to be sealed, and the client has no data key yet."""


class SealedRecipients:
    """The `recipients` store with contact details sealed at rest and opened on every read.

    Callers see plain addresses, as before; MongoDB holds `{v, kid, n, c}` values, each
    bound to its recipient and field. A client's (`role: client`) are sealed with the
    client's data key, so erasing the client shreds them; a therapist's or the rota's with
    the service's master key. A document written before holds plain text: it still
    reads, and the next write seals it. An address whose key was destroyed reads as
    absent. Nothing filters on a contact field (it could not: each value is sealed with
    its own nonce).
    """

    def __init__(
        self,
        documents: Documents,
        keys: ClientKeys,
        master: Callable[[], FieldCipher],
        *,
        reuse_seconds: float = 0.0,
    ) -> None:
        self.name = documents.name
        self._documents = documents
        self._keys = keys
        self._master = master
        self._recent = RecentReads(self._opened, reuse_seconds=reuse_seconds)

    async def get(self, document_id: str, *, writing: bool = False) -> Document | None:
        """The recipient, opened; a read made here moments ago is reused unless `writing`
        (`store/recent.py`: one intake's notices come within a tenth of a second)."""
        if writing:
            return await self._opened(document_id, writing=True)
        return await self._recent.get(document_id)

    async def _opened(self, document_id: str, *, writing: bool = False) -> Document | None:
        found = await self._documents.get(document_id, writing=writing)
        return None if found is None else _opened(found, await self._reader(found))

    @asynccontextmanager
    async def _changing(self, document_ids: Sequence[Any]) -> AsyncIterator[None]:
        """Around a write: no copy of these recipients read before it ends is handed out again."""
        self._recent.changed(*document_ids)
        try:
            yield
        finally:
            self._recent.changed(*document_ids)

    async def find(
        self,
        query: Mapping[str, Any],
        *,
        sort: Sequence[tuple[str, int]] = (("_id", 1),),
        skip: int = 0,
        limit: int = 0,
    ) -> list[Document]:
        if set(query) & set(CONTACT_FIELDS):
            raise ValueError("contact details are sealed: they cannot be queried")
        found = await self._documents.find(query, sort=sort, skip=skip, limit=limit)
        return [_opened(document, await self._reader(document)) for document in found]

    async def insert(
        self,
        document: Mapping[str, Any],
        events: Sequence[OutgoingEvent] = (),
        *,
        cause: Envelope | None = None,
    ) -> bool:
        recipient_id = str(document["_id"])
        cipher = await self._writer(recipient_id, document)
        async with self._changing([recipient_id]):
            return await self._documents.insert(_sealed(document, recipient_id, cipher), events, cause=cause)

    async def insert_many(self, documents: Sequence[Mapping[str, Any]]) -> set[str]:
        async with self._changing([d["_id"] for d in documents]):
            return await self._documents.insert_many(await self._all_sealed(documents))

    async def insert_in_order(self, documents: Sequence[Mapping[str, Any]]) -> int | None:
        async with self._changing([d["_id"] for d in documents]):
            return await self._documents.insert_in_order(await self._all_sealed(documents))

    @asynccontextmanager
    async def claiming(
        self, documents: Sequence[Mapping[str, Any]], *, also: Sequence[str] = ()
    ) -> AsyncIterator[set[str]]:
        async with (
            self._changing([d["_id"] for d in documents]),
            self._documents.claiming(await self._all_sealed(documents), also=also) as existed,
        ):
            yield existed

    def lease_of(self, document_id: str) -> str:
        return self._documents.lease_of(document_id)

    def holding(self, leases: Sequence[str]) -> AbstractAsyncContextManager[set[str]]:
        return self._documents.holding(leases)

    async def _all_sealed(self, documents: Sequence[Mapping[str, Any]]) -> list[Document]:
        sealed = []
        for document in documents:
            recipient_id = str(document["_id"])
            sealed.append(_sealed(document, recipient_id, await self._writer(recipient_id, document)))
        return sealed

    async def update(
        self, document_id: str, change: Change, *, cause: Envelope | None = None
    ) -> Document | None:
        async def write(cipher: FieldCipher) -> Document | None:
            return await self._documents.update(
                document_id, self._through(document_id, change, cipher), cause=cause
            )

        async with self._changing([document_id]):
            return await self._with_cipher(document_id, write)

    async def update_many(
        self, changes: Sequence[tuple[str, Change]], *, cause: Envelope | None = None
    ) -> dict[str, Document | None]:
        """One by one: each recipient's fields are sealed with that recipient's own key."""
        updated = [await self.update(document_id, change, cause=cause) for document_id, change in changes]
        return dict(zip([document_id for document_id, _ in changes], updated, strict=True))

    async def upsert(
        self, document_id: str, change: Creation, *, cause: Envelope | None = None
    ) -> Document | None:
        async def write(cipher: FieldCipher) -> Document | None:
            return await self._documents.upsert(
                document_id, self._through(document_id, change, cipher), cause=cause
            )

        async with self._changing([document_id]):
            return await self._with_cipher(document_id, write)

    async def upsert_many(
        self, changes: Sequence[tuple[str, Creation]], *, cause: Envelope | None = None
    ) -> dict[str, Document | None]:
        """One by one: each recipient's fields are sealed with that recipient's own key."""
        written = [await self.upsert(document_id, change, cause=cause) for document_id, change in changes]
        return dict(zip([document_id for document_id, _ in changes], written, strict=True))

    async def delete(self, document_id: str) -> bool:
        async with self._changing([document_id]):
            return await self._documents.delete(document_id)

    async def _with_cipher(
        self, recipient_id: str, write: Callable[[FieldCipher], Awaitable[Document | None]]
    ) -> Document | None:
        cipher = await self._keys.reader_for(recipient_id)
        try:
            stored = await write(cipher)
        except _NeedsDataKey:  # a client's first contact details: make their key, then write
            cipher = await self._keys.cipher_for(recipient_id)
            stored = await write(cipher)
        return None if stored is None else _opened(stored, cipher)

    def _through(
        self, recipient_id: str, change: Callable[[Any], Revision | None], cipher: FieldCipher
    ) -> Creation:
        """`change` applied to the opened document, its result sealed again."""

        def sealed_change(current: Document | None) -> Revision | None:
            revision = change(None if current is None else _opened(current, cipher))
            if revision is None:
                return None
            document = revision.document
            if _is_client(document) and _has_contacts(document) and not cipher.seals_with_data_key:
                raise _NeedsDataKey(recipient_id)
            chosen = cipher if _is_client(document) else self._master()
            return Revision(_sealed(document, recipient_id, chosen), revision.events)

        return sealed_change

    async def _reader(self, document: Mapping[str, Any]) -> FieldCipher:
        if any(is_data_key_id(_kid(document.get(name))) for name in CONTACT_FIELDS):
            return await self._keys.reader_for(str(document["_id"]))
        return self._master()

    async def _writer(self, recipient_id: str, document: Mapping[str, Any]) -> FieldCipher:
        if _is_client(document) and _has_contacts(document):
            return await self._keys.cipher_for(recipient_id)
        return self._master()


def _is_client(document: Mapping[str, Any]) -> bool:
    return document.get("role") == "client"


def _has_contacts(document: Mapping[str, Any]) -> bool:
    return any(document.get(name) for name in CONTACT_FIELDS)


def _kid(value: object) -> str | None:
    return str(value.get("kid")) if isinstance(value, Mapping) else None


def _sealed(document: Mapping[str, Any], recipient_id: str, cipher: FieldCipher) -> Document:
    sealed = dict(document)
    for name in CONTACT_FIELDS:
        value = document.get(name)
        if isinstance(value, str) and value:
            sealed[name] = cipher.encrypt(value, context=contact_context(recipient_id, name))
    return sealed


def _opened(document: Mapping[str, Any], cipher: FieldCipher) -> Document:
    opened = dict(document)
    recipient_id = str(document["_id"])
    for name in CONTACT_FIELDS:
        value = document.get(name)
        if isinstance(value, Mapping):
            try:
                opened[name] = cipher.decrypt(value, context=contact_context(recipient_id, name))
            except KeyShredded:
                opened[name] = None  # the client was erased
    return opened
