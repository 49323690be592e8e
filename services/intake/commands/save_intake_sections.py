"""Save sections of a draft at any time; a submitted intake no longer changes (409)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.intake.context import IntakeContext
from services.intake.domain.intake import IntakeSections
from services.intake.store.intakes import sealed_sections
from shared.clock import stored_instant
from shared.refusals import Conflict, NotFound
from shared.storage import Document
from shared.storage.documents import Revision


@dataclass(frozen=True, slots=True)
class SaveIntakeSections:
    intake_id: str
    changes: IntakeSections
    fields: frozenset[str]
    """The sections to replace (`model_fields_set`); one given as null is cleared."""
    now: datetime


async def save_intake_sections(command: SaveIntakeSections, ctx: IntakeContext) -> Document:
    """The draft with the sections named in `fields` replaced."""
    intake_id = command.intake_id
    sealed = sealed_sections(command.changes, command.fields, intake_id=intake_id, cipher=ctx.cipher)

    def change(current: Document) -> Revision | None:
        if current["status"] != "draft":
            return None  # the caller sees the submitted state and refuses
        merged = {**current["sections"], **sealed}
        return Revision({**current, "sections": merged, "updated_at": stored_instant(command.now)})

    saved = await ctx.intakes.update(intake_id, change)
    if saved is None:
        raise NotFound("no such record")
    if saved["status"] != "draft":
        raise Conflict("the intake was submitted; it can no longer change")
    return saved
