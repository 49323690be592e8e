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
    assert cipher.encrypt("new", context="c")["kid"].startswith(f"{DATA_KEY_ID}:")


async def test_values_of_a_destroyed_key_are_shredded_and_another_clients_still_open() -> None:
    keys = ClientKeys(InMemoryDocuments("client_keys"), lambda: MASTER, ttl_seconds=60)
    mine = (await keys.cipher_for("client-1")).encrypt("mine", context="c")
    theirs = (await keys.cipher_for("client-2")).encrypt("theirs", context="c")

    assert await keys.destroy("client-1")

    with pytest.raises(KeyShredded):
        (await keys.reader_for("client-1")).decrypt(mine, context="c")
    assert (await keys.reader_for("client-2")).decrypt(theirs, context="c") == "theirs"


async def test_a_key_made_after_an_erasure_never_opens_the_erased_values_they_stay_shredded() -> None:
    keys = ClientKeys(InMemoryDocuments("client_keys"), lambda: MASTER)
    erased = (await keys.cipher_for("client-1")).encrypt("before erasure", context="c")
    assert await keys.destroy("client-1")

    returning = await keys.cipher_for("client-1")  # the client comes back: a new key
    new = returning.encrypt("after", context="c")

    assert new["kid"] != erased["kid"]
    with pytest.raises(KeyShredded):
        returning.decrypt(erased, context="c")
    assert returning.decrypt(new, context="c") == "after"


@pytest.mark.parametrize("kid", [DATA_KEY_ID, f"{DATA_KEY_ID}:k1"])
async def test_the_master_key_ids_may_not_take_the_data_keys_ids(kid: str) -> None:
    with pytest.raises(ValueError, match="reserved for clients' data keys"):
        FieldCipher({kid: b"\0" * 32}, kid)
