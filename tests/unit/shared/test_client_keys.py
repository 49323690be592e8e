"""Per-client data keys: one key per client, older master-key values still open, erased values shredded."""

from __future__ import annotations

import base64

import pytest

from shared.security.client_keys import ClientKeys
from shared.security.field_encryption import DATA_KEY_ID, FieldCipher, KeyShredded, new_key
from tests.support.fakes import InMemoryDocuments

MASTER = FieldCipher({"k1": base64.b64decode(new_key())}, "k1")


async def test_a_clients_cipher_opens_values_sealed_before_under_the_master_key() -> None:
    keys = ClientKeys(InMemoryDocuments("client_keys"), lambda: MASTER)
    older = MASTER.encrypt("before keys", context="intakes/i-1/history")

    cipher = await keys.cipher_for("client-1")

    assert cipher.decrypt(older, context="intakes/i-1/history") == "before keys"
    assert cipher.encrypt("new", context="c")["kid"] == DATA_KEY_ID


async def test_values_of_a_destroyed_key_are_shredded_and_another_clients_still_open() -> None:
    keys = ClientKeys(InMemoryDocuments("client_keys"), lambda: MASTER, ttl_seconds=60)
    mine = (await keys.cipher_for("client-1")).encrypt("mine", context="c")
    theirs = (await keys.cipher_for("client-2")).encrypt("theirs", context="c")

    assert await keys.destroy("client-1")

    with pytest.raises(KeyShredded):
        (await keys.reader_for("client-1")).decrypt(mine, context="c")
    assert (await keys.reader_for("client-2")).decrypt(theirs, context="c") == "theirs"


async def test_the_master_key_ids_may_not_take_the_data_keys_id() -> None:
    with pytest.raises(ValueError, match="reserved"):
        FieldCipher({DATA_KEY_ID: b"\0" * 32}, DATA_KEY_ID)
