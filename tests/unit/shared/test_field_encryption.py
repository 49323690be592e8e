"""Free-text clinical fields are encrypted with AES-256-GCM, bound to their place, rotatable."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from shared.security.field_encryption import DecryptionError, EncryptionSettings, FieldCipher, new_key

CONTEXT = "intakes/intake-1/history"


def cipher(active: str = "k1", **keys: str) -> FieldCipher:
    keys = keys or {"k1": new_key()}
    return FieldCipher({k: base64.b64decode(v) for k, v in keys.items()}, active)


def test_encrypted_value_round_trips_and_hides_the_text() -> None:
    fields = cipher()
    sealed = fields.encrypt("Panic attacks since my divorce", context=CONTEXT)
    assert "Panic" not in str(sealed)
    assert fields.decrypt(sealed, context=CONTEXT) == "Panic attacks since my divorce"


def test_same_text_encrypts_differently_each_time() -> None:
    fields = cipher()
    assert fields.encrypt("same", context=CONTEXT)["c"] != fields.encrypt("same", context=CONTEXT)["c"]


def test_ciphertext_moved_to_another_record_does_not_decrypt() -> None:
    fields = cipher()
    sealed = fields.encrypt("private", context=CONTEXT)
    with pytest.raises(DecryptionError):
        fields.decrypt(sealed, context="intakes/intake-2/history")


def test_tampered_ciphertext_is_refused() -> None:
    fields = cipher()
    sealed = fields.encrypt("private", context=CONTEXT)
    raw = bytearray(base64.b64decode(sealed["c"]))
    raw[0] ^= 1
    with pytest.raises(DecryptionError):
        fields.decrypt({**sealed, "c": base64.b64encode(bytes(raw)).decode()}, context=CONTEXT)


def test_rotation_encrypts_with_the_active_key_and_still_reads_old_values() -> None:
    old_key, new = new_key(), new_key()
    before = cipher("k1", k1=old_key).encrypt("written last year", context=CONTEXT)
    rotated = FieldCipher.from_settings(
        EncryptionSettings(keys=SecretStr(f"k2:{new},k1:{old_key}"), active_key="k2")
    )
    assert rotated.decrypt(before, context=CONTEXT) == "written last year"
    assert rotated.encrypt("written today", context=CONTEXT)["kid"] == "k2"


def test_misconfigured_keys_are_refused_at_start() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        FieldCipher({"k1": b"short"}, "k1")
    with pytest.raises(ValueError, match="active key"):
        FieldCipher({"k1": bytes(32)}, "k9")
