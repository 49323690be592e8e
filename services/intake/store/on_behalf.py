"""On-behalf entries as stored in an intake or check-in: who, when, how, and the sealed reason.

    intake:   entered_on_behalf: [{by, at, method, action, reason: <sealed>}, ...]
    check-in: entered_on_behalf: {by, at, method, action, reason: <sealed>} | absent

The reason is free text a clinician wrote about the client, so it is sealed with the
field cipher like every other free text (bound to the document and field), not kept in
the audit trail, whose entries hold ids and codes only; the readers of the record see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.intake.domain.on_behalf import OnBehalfEntry
from services.intake.store.sealing import seal, unseal
from shared.clock import stored_instant
from shared.security.field_encryption import FieldCipher
from shared.storage import Document

ENTERED_ON_BEHALF = "entered_on_behalf"


def reason_context(collection: str, document_id: str) -> str:
    return f"{collection}/{document_id}/{ENTERED_ON_BEHALF}/reason"


def entry_document(
    entry: OnBehalfEntry, *, action: str, at: datetime, context: str, cipher: FieldCipher
) -> dict[str, Any]:
    return {
        "by": entry.by,
        "at": stored_instant(at),
        "method": entry.method,
        "action": action,
        "reason": seal(cipher, entry.reason, context=context),
    }


def opened_entry(stored: Mapping[str, Any], *, context: str, cipher: FieldCipher) -> dict[str, Any]:
    """The entry with its reason decrypted, for a reader of the record."""
    return {**stored, "reason": unseal(cipher, stored.get("reason"), context=context)}


def intake_entries(intake: Document) -> list[dict[str, Any]]:
    return list(intake.get(ENTERED_ON_BEHALF) or [])


def entered_by(intake: Document) -> str | None:
    """The clinician of the intake's latest on-behalf entry (None: the client entered it all)."""
    entries = intake_entries(intake)
    return str(entries[-1]["by"]) if entries else None
