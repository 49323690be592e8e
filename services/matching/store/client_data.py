"""What matching holds about a client, for their export and erasure (`shared/data_rights.py`).

Matching seals nothing: it holds codes and numbers (the intake's summary, proposals, the
care relationships). Who was offered to the client and who treats them is part of the
care history, kept flagged for the clinical-record retention period; so is the audit trail.
"""

from __future__ import annotations

from services.matching.context import MatchingContext
from shared.data_rights import ClientData, Holding, Retention
from shared.ports import Documents

CARE_HISTORY = Retention("clinical record retention: whom the client was offered and chose", years=10)
ACCESS_AUDIT = Retention("audit trail of access to clinical data (HIPAA 164.316(b)(2))", years=6)


def client_data(ctx: MatchingContext, *, audit: Documents, erasures: Documents) -> ClientData:
    return ClientData(
        service="matching",
        holdings=(
            Holding(ctx.clients, field="_id", retain=CARE_HISTORY),
            Holding(ctx.proposals, retain=CARE_HISTORY),
            Holding(audit, retain=ACCESS_AUDIT),
        ),
        erasures=erasures,
        clock=ctx.clock,
    )
