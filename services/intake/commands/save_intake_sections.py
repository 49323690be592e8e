"""Save sections of a draft at any time; a submitted intake no longer changes (409)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.intake.commands.refusals import Conflict, NotFound
from services.intake.commands.times import stored_time
from services.intake.domain.intake import IntakeSections
from services.intake.store import IntakeStores
from services.intake.store.intakes import sealed_sections
from shared.security.field_encryption import FieldCipher
from shared.storage import Document
from shared.storage.documents import Revision


async def save_intake_sections(
    stores: IntakeStores,
    cipher: FieldCipher,
    intake_id: str,
    changes: IntakeSections,
    *,
    fields: Iterable[str],
    now: datetime,
) -> Document:
    """Replace the sections named in `fields` (a section given as null is cleared)."""
    sealed = sealed_sections(changes, fields, intake_id=intake_id, cipher=cipher)

    def change(current: Document) -> Revision | None:
        if current["status"] != "draft":
            return None  # the caller sees the submitted state and refuses
        merged = {**current["sections"], **sealed}
        return Revision({**current, "sections": merged, "updated_at": stored_time(now)})

    saved = await stores.intakes.update(intake_id, change)
    if saved is None:
        raise NotFound(intake_id)
    if saved["status"] != "draft":
        raise Conflict("the intake was submitted; it can no longer change")
    return saved
