"""Start an intake as a draft, with whatever sections the client has filled in so far."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from services.intake.commands.times import stored_time
from services.intake.domain.intake import NewIntake
from services.intake.store import IntakeStores
from services.intake.store.client_records import record_intake
from services.intake.store.intakes import sealed_sections
from shared.security.field_encryption import FieldCipher
from shared.storage import Document


async def create_intake(
    stores: IntakeStores,
    cipher: FieldCipher,
    new: NewIntake,
    *,
    fields: Iterable[str],
    created_by: dict[str, str],
    now: datetime,
    intake_id: str | None = None,
) -> Document:
    """Store a new draft; `fields` are the sections the request gave (the rest stay unset).

    The client's record lists the intake first, so a crash between the two writes leaves
    an id without a draft (skipped by readers), never a draft the client cannot find.
    """
    intake_id = intake_id or str(uuid.uuid4())
    sections = [name for name in fields if name != "client_id"]
    at = stored_time(now)
    document: Document = {
        "_id": intake_id,
        "client_id": new.client_id,
        "status": "draft",
        "sections": sealed_sections(new, sections, intake_id=intake_id, cipher=cipher),
        "created_at": at,
        "updated_at": at,
        "created_by": dict(created_by),
    }
    await stores.clients.upsert(new.client_id, record_intake(new.client_id, intake_id))
    await stores.intakes.insert(document)
    return document
