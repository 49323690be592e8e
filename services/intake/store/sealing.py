"""Free text sealed at rest with the runtime's field cipher, bound to its record and field.

A sealed value is the cipher's `{v, kid, n, c}` map; its context names the collection,
the document and the field (`intakes/<id>/history`), so ciphertext copied into another
record or field does not decrypt there.
"""

from __future__ import annotations

import json
from typing import Any

from shared.security.field_encryption import FieldCipher


def seal(cipher: FieldCipher, text: str | None, *, context: str) -> dict[str, Any] | None:
    return None if text is None else cipher.encrypt(text, context=context)


def unseal(cipher: FieldCipher, sealed: dict[str, Any] | None, *, context: str) -> str | None:
    return None if sealed is None else cipher.decrypt(sealed, context=context)


def seal_json(cipher: FieldCipher, value: Any, *, context: str) -> dict[str, Any]:
    """Seal a whole structure (e.g. a history section) as one value."""
    return cipher.encrypt(json.dumps(value, sort_keys=True), context=context)


def unseal_json(cipher: FieldCipher, sealed: dict[str, Any], *, context: str) -> Any:
    return json.loads(cipher.decrypt(sealed, context=context))
