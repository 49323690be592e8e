"""Start an intake as a draft, with whatever sections the client has filled in so far.

A clinician's on-behalf entry is marked in the draft (`store.on_behalf`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from services.intake.context import IntakeContext
from services.intake.domain.intake import NewIntake
from services.intake.domain.on_behalf import OnBehalfEntry
from services.intake.store.client_records import record_intake
from services.intake.store.intakes import sealed_sections
from services.intake.store.on_behalf import ENTERED_ON_BEHALF, entry_document, reason_context
from shared.clock import stored_instant
from shared.storage import Document


@dataclass(frozen=True, slots=True)
class CreateIntake:
    new: NewIntake
    fields: frozenset[str]
    """The sections the request gave (`model_fields_set`); the rest stay unset."""
    created_by: Mapping[str, str]
    """`{subject, role}` of the caller."""
    now: datetime
    intake_id: str | None = None
    """None: a fresh id."""
    on_behalf: OnBehalfEntry | None = None
    """A clinician's entry for the client; None: the caller's own."""


async def create_intake(command: CreateIntake, ctx: IntakeContext) -> Document:
    """Store a new draft.

    The client's record lists the intake first, so a crash between the two writes leaves
    an id without a draft (skipped by readers), never a draft the client cannot find.
    """
    new = command.new
    intake_id = command.intake_id or str(uuid.uuid4())
    sections = [name for name in command.fields if name != "client_id"]
    at = stored_instant(command.now)
    cipher = await ctx.cipher_for(new.client_id)
    document: Document = {
        "_id": intake_id,
        "client_id": new.client_id,
        "status": "draft",
        "sections": sealed_sections(new, sections, intake_id=intake_id, cipher=cipher),
        "created_at": at,
        "updated_at": at,
        "created_by": dict(command.created_by),
    }
    if command.on_behalf is not None:
        context = reason_context("intakes", intake_id)
        document[ENTERED_ON_BEHALF] = [
            entry_document(command.on_behalf, action="create", at=at, context=context, cipher=cipher)
        ]
    await ctx.clients.upsert(new.client_id, record_intake(new.client_id, intake_id))
    await ctx.intakes.insert(document)
    return document
