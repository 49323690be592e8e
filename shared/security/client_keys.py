"""Per-client data keys: each client's values sealed with their own key, erased by destroying it.

Crypto-shredding (DESIGN §8, issue 19): a client's free text and contact details are
sealed with a random 32-byte key of their own, made on first need. The key is stored
*wrapped* (sealed with the service's master `FieldCipher`, context `client-keys/<id>`) in
the service's `client_keys` collection, `_id = client_id`, read only by that `_id` (the
one lookup FerretDB serves from an index). Erasure deletes that document: every copy of
the client's values (replicas, backups, exports of the database) becomes unreadable, and
reads show them as erased (`KeyShredded`).

Two replicas making a client's first key at once end with one: the unique `_id` insert
decides, and the loser reads the winner's key.

Unwrapped keys are cached in-process for `ttl_seconds` (30 s by default, at most
`max_cached` clients, least recently used dropped first), since each lookup is a MongoDB
round trip. The cost: for up to that long after an erasure another replica may still
open (or seal with) the destroyed key; what it seals then is unreadable as soon as its
cache entry expires. Only keys that exist are cached, so a key made by another replica is
seen at once.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.ports import Documents
from shared.security.field_encryption import FieldCipher
from shared.storage import AlreadyExists, Document

COLLECTION = "client_keys"
DEFAULT_TTL_SECONDS = 30.0
DEFAULT_MAX_CACHED = 1024


@dataclass(frozen=True, slots=True)
class DataKey:
    key: bytes
    key_id: str
    """Random, per key: values name it (`client:<key_id>`), so a later key never opens them."""


def wrap_context(client_id: str) -> str:
    return f"{COLLECTION}/{client_id}"


class ClientKeys:
    """The clients' data keys of one service: made on first need, cached briefly, destroyed on erasure."""

    def __init__(
        self,
        documents: Documents,
        master: Callable[[], FieldCipher],
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_cached: int = DEFAULT_MAX_CACHED,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._documents = documents
        self._master = master  # on first use: building an app needs no keys
        self._ttl = ttl_seconds
        self._max_cached = max_cached
        self._monotonic = monotonic
        self._cache: OrderedDict[str, tuple[float, DataKey]] = OrderedDict()

    async def cipher_for(self, client_id: str) -> FieldCipher:
        """A cipher sealing with the client's key (made now if they have none) that opens older values too."""
        key = await self._key(client_id)
        if key is None:
            key = await self._create(client_id)
        return self._master().with_data_key(key.key, key.key_id)

    async def reader_for(self, client_id: str) -> FieldCipher:
        """A cipher opening the client's values, making no key (values of an erased key: `KeyShredded`)."""
        key = await self._key(client_id)
        return (
            self._master().with_data_key(None)
            if key is None
            else self._master().with_data_key(key.key, key.key_id)
        )

    async def has_key(self, client_id: str) -> bool:
        return await self._key(client_id) is not None

    async def destroy(self, client_id: str) -> bool:
        """Crypto-shred the client's values: delete their key (False: they had none)."""
        self._cache.pop(client_id, None)
        return await self._documents.delete(client_id)

    async def _key(self, client_id: str) -> DataKey | None:
        cached = self._cache.get(client_id)
        if cached is not None and cached[0] > self._monotonic():
            self._cache.move_to_end(client_id)
            return cached[1]
        self._cache.pop(client_id, None)
        found = await self._documents.get(client_id)
        return None if found is None else self._remember(client_id, self._unwrap(client_id, found))

    async def _create(self, client_id: str) -> DataKey:
        key = DataKey(os.urandom(32), secrets.token_hex(8))
        document = {
            "_id": client_id,
            "key": self._master().encrypt(
                base64.b64encode(key.key).decode(), context=wrap_context(client_id)
            ),
            "key_id": key.key_id,
            "created_at": datetime.now(UTC),
        }
        try:
            await self._documents.insert(document)
        except AlreadyExists:
            found = await self._documents.get(client_id)  # another replica made it first: theirs wins
            if found is None:
                raise  # made and destroyed at once: let the caller retry
            return self._remember(client_id, self._unwrap(client_id, found))
        return self._remember(client_id, key)

    def _unwrap(self, client_id: str, document: Document) -> DataKey:
        key = base64.b64decode(self._master().decrypt(document["key"], context=wrap_context(client_id)))
        return DataKey(key, str(document.get("key_id", "")))

    def _remember(self, client_id: str, key: DataKey) -> DataKey:
        self._cache[client_id] = (self._monotonic() + self._ttl, key)
        self._cache.move_to_end(client_id)
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)
        return key
