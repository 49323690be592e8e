"""Save sections of a draft at any time; a submitted intake no longer changes (409).

A clinician's on-behalf entry is added to the draft's marks (`store.on_behalf`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.intake.context import IntakeContext
from services.intake.domain.intake import IntakeSections
from services.intake.domain.on_behalf import OnBehalfEntry
from services.intake.store.intakes import client_of, sealed_sections
from services.intake.store.on_behalf import ENTERED_ON_BEHALF, entry_document, intake_entries, reason_context
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
    on_behalf: OnBehalfEntry | None = None
    """A clinician's entry for the client; None: the caller's own."""


async def save_intake_sections(command: SaveIntakeSections, ctx: IntakeContext) -> Document:
    """The draft with the sections named in `fields` replaced."""
    intake_id = command.intake_id
    client_id = await client_of(ctx.intakes, intake_id)
    if client_id is None:
        raise NotFound("no such record")
    cipher = await ctx.cipher_for(client_id)
    sealed = sealed_sections(command.changes, command.fields, intake_id=intake_id, cipher=cipher)

    def change(current: Document) -> Revision | None:
        if current["status"] != "draft":
            return None  # the caller sees the submitted state and refuses
        merged = {**current["sections"], **sealed}
        saved = {**current, "sections": merged, "updated_at": stored_instant(command.now)}
        if command.on_behalf is not None:
            entry = entry_document(
                command.on_behalf,
                action="update",
                at=command.now,
                context=reason_context("intakes", intake_id),
                cipher=cipher,
            )
            saved[ENTERED_ON_BEHALF] = [*intake_entries(current), entry]
        return Revision(saved)

    saved = await ctx.intakes.update(intake_id, change)
    if saved is None:
        raise NotFound("no such record")
    if saved["status"] != "draft":
        raise Conflict("the intake was submitted; it can no longer change")
    return saved
