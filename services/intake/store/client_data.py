"""What intake holds about a client, for their export and erasure (`shared/data_rights.py`).

Erasure destroys the client's data key, so the free text of every intake, plan and
check-in (history, goal descriptions, notes) is unreadable wherever it was copied. The
clinical record itself (the client record, submitted intakes with their scores, plan
versions, check-ins) is kept for the clinical-record retention period, flagged; drafts
are deleted. The audit trail of who read the record is kept for its own period.
"""

from __future__ import annotations

from services.intake.context import IntakeContext
from services.intake.store.check_ins import note_context
from services.intake.store.intakes import opened_sections
from services.intake.store.sealing import unseal
from services.intake.store.treatment_plans import opened_plan
from shared.data_rights import ClientData, Holding, Retention
from shared.ports import Documents
from shared.security.field_encryption import FieldCipher
from shared.storage import Document

CLINICAL_RECORD = Retention("clinical record retention (mental-health records of adults)", years=10)
ACCESS_AUDIT = Retention("audit trail of access to clinical data (HIPAA 164.316(b)(2))", years=6)


def opened_intake(intake: Document, cipher: FieldCipher) -> Document:
    sections = opened_sections(intake["sections"], intake_id=str(intake["_id"]), cipher=cipher)
    return {**intake, "sections": sections.model_dump(mode="json", exclude_none=True)}


def opened_check_in(check_in: Document, cipher: FieldCipher) -> Document:
    note = unseal(cipher, check_in.get("note"), context=note_context(str(check_in["_id"])))
    return {**check_in, "note": note}


def client_data(ctx: IntakeContext, *, audit: Documents, erasures: Documents) -> ClientData:
    return ClientData(
        service="intake",
        holdings=(
            Holding(ctx.clients, field="_id", retain=CLINICAL_RECORD),
            Holding(
                ctx.intakes,
                retain=CLINICAL_RECORD,
                kept=lambda intake: intake.get("status") == "submitted",
                open=opened_intake,
            ),
            Holding(ctx.plans, retain=CLINICAL_RECORD, open=opened_plan),
            Holding(ctx.check_ins, retain=CLINICAL_RECORD, open=opened_check_in),
            Holding(audit, retain=ACCESS_AUDIT),
        ),
        erasures=erasures,
        clock=ctx.clock,
        keys=ctx.client_keys,
        cipher_of=ctx.cipher_of,
    )
