"""Free text sealed at rest with the runtime's field cipher, bound to its record and field.

A sealed value is the cipher's `{v, kid, n, c}` map; its context names the collection,
the document and the field (`intakes/<id>/history`), so ciphertext copied into another
record or field does not decrypt there.

The cipher is the client's (`IntakeContext.cipher_for`): new values are sealed with the
client's own data key. A value whose key was destroyed (the client's erasure) reads as
erased: None, never an error, wherever the document was copied.
"""

from __future__ import annotations

import json
from typing import Any

from shared.security.field_encryption import FieldCipher, KeyShredded


def seal(cipher: FieldCipher, text: str | None, *, context: str) -> dict[str, Any] | None:
    return None if text is None else cipher.encrypt(text, context=context)


def unseal(cipher: FieldCipher, sealed: dict[str, Any] | None, *, context: str) -> str | None:
    """The text, or None when there is none or it was erased."""
    if sealed is None:
        return None
    try:
        return cipher.decrypt(sealed, context=context)
    except KeyShredded:
        return None


def seal_json(cipher: FieldCipher, value: Any, *, context: str) -> dict[str, Any]:
    """Seal a whole structure (e.g. a history section) as one value."""
    return cipher.encrypt(json.dumps(value, sort_keys=True), context=context)


def unseal_json(cipher: FieldCipher, sealed: dict[str, Any], *, context: str) -> Any:
    """The structure, or None when it was erased."""
    opened = unseal(cipher, sealed, context=context)
    return None if opened is None else json.loads(opened)
