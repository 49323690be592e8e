"""Application-level encryption of free-text clinical fields (AES-256-GCM, DESIGN §8).

Free text (presenting concerns in a client's own words, notes) is encrypted before it
reaches MongoDB, so a database dump, a backup or a curious operator sees ciphertext.
Each value is bound to where it belongs through the AEAD associated data (e.g.
`intakes/intake-1/history`): a ciphertext copied into another record will not decrypt.

Keys come from the environment as `FIELD_ENCRYPTION_KEYS="k2:<base64>,k1:<base64>"`
(32-byte keys) with `FIELD_ENCRYPTION_ACTIVE_KEY=k2`: new values use the active key,
older values still decrypt with theirs, which is how keys are rotated.

A client's values may instead be sealed with that client's own data key
(`client_keys.py`): `with_data_key` gives a cipher whose active key is the client's (kid
`client`) and which still opens values sealed before under the master keys. When the
client's key is destroyed (erasure), their values raise `KeyShredded`: callers read them
as erased.

    python -m shared.security.field_encryption new-key     # prints a fresh base64 key
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

FORMAT_VERSION = 1
NONCE_BYTES = 12
DATA_KEY_ID = "client"
"""The kid prefix of values sealed with a client's own data key: `client:<key id>`.

Each data key has an id of its own, so a key made after an erasure (the client came back)
never seems to open the values of the destroyed one: those still read as shredded."""


def is_data_key_id(kid: object) -> bool:
    """Whether `kid` names a client's data key (never a master key)."""
    return isinstance(kid, str) and (kid == DATA_KEY_ID or kid.startswith(f"{DATA_KEY_ID}:"))


class DecryptionError(Exception):
    """The value was tampered with, belongs elsewhere, or its key is unknown."""


class KeyShredded(DecryptionError):
    """The value was sealed with a client's data key that no longer exists (erased)."""


class EncryptionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIELD_ENCRYPTION_", extra="ignore")

    keys: SecretStr | None = None
    active_key: str | None = None


class FieldCipher:
    def __init__(self, keys: Mapping[str, bytes], active_key: str) -> None:
        if active_key not in keys:
            raise ValueError(f"active key {active_key!r} is not among the configured keys")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"key {key_id!r} must be 32 bytes (AES-256), not {len(key)}")
        if any(is_data_key_id(key_id) for key_id in keys):
            raise ValueError(
                f"key ids {DATA_KEY_ID!r} and {DATA_KEY_ID}:* are reserved for clients' data keys"
            )
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = active_key
        self._master_active = active_key

    @property
    def seals_with_data_key(self) -> bool:
        """Whether new values are sealed with a client's data key (not a master key)."""
        return is_data_key_id(self._active)

    def with_data_key(self, key: bytes | None, key_id: str = "") -> FieldCipher:
        """This cipher plus a client's data key `key_id`, which seals new values (None: they have none).

        Without a key the cipher still seals with the master key and opens older values;
        a value sealed with a data key then raises `KeyShredded`.
        """
        if key is not None and len(key) != 32:
            raise ValueError(f"a data key must be 32 bytes (AES-256), not {len(key)}")
        derived = object.__new__(FieldCipher)
        derived._master_active = self._master_active
        derived._ciphers = {kid: cipher for kid, cipher in self._ciphers.items() if not is_data_key_id(kid)}
        derived._active = self._master_active
        if key is not None:
            kid = f"{DATA_KEY_ID}:{key_id}" if key_id else DATA_KEY_ID
            derived._ciphers[kid] = AESGCM(key)
            derived._active = kid
        return derived

    @classmethod
    def from_settings(cls, settings: EncryptionSettings) -> FieldCipher:
        if settings.keys is None or not settings.active_key:
            raise ValueError("FIELD_ENCRYPTION_KEYS and FIELD_ENCRYPTION_ACTIVE_KEY must be set")
        keys: dict[str, bytes] = {}
        for item in settings.keys.get_secret_value().split(","):
            key_id, _, encoded = item.strip().partition(":")
            keys[key_id] = base64.b64decode(encoded)
        return cls(keys, settings.active_key)

    def encrypt(self, plaintext: str, *, context: str) -> dict[str, Any]:
        """Encrypt `plaintext` for the place named by `context` (record and field)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._active].encrypt(nonce, plaintext.encode(), context.encode())
        return {
            "v": FORMAT_VERSION,
            "kid": self._active,
            "n": base64.b64encode(nonce).decode(),
            "c": base64.b64encode(sealed).decode(),
        }

    def decrypt(self, value: Mapping[str, Any], *, context: str) -> str:
        kid = str(value.get("kid"))
        cipher = self._ciphers.get(kid)
        if value.get("v") == FORMAT_VERSION and cipher is None and is_data_key_id(kid):
            raise KeyShredded("the client's data key no longer exists")
        if value.get("v") != FORMAT_VERSION or cipher is None:
            raise DecryptionError("unknown encryption format or key")
        try:
            plain = cipher.decrypt(
                base64.b64decode(value["n"]), base64.b64decode(value["c"]), context.encode()
            )
        except (InvalidTag, KeyError, ValueError) as exc:
            raise DecryptionError("value does not decrypt for this context") from exc
        return plain.decode()


def new_key() -> str:
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()


if __name__ == "__main__":
    if sys.argv[1:] == ["new-key"]:
        print(new_key())
        sys.exit(0)
    print(__doc__)
    sys.exit(2)
