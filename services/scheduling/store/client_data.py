"""What scheduling holds about a client, for their export and erasure (`shared/data_rights.py`).

The client's care document (sessions with their dates and attendance, the series, plan
and check-in rhythm) and the session references are kept, flagged: billing and the
clinical record need them. The client's calendar feeds are deleted. Scheduling seals
nothing (ids, times and codes only).
"""

from __future__ import annotations

from services.scheduling.context import SchedulingContext
from shared.data_rights import ClientData, Holding, Retention
from shared.ports import Documents

SESSIONS = Retention("session dates and attendance: billing and clinical record retention", years=10)
ACCESS_AUDIT = Retention("audit trail of access to clinical data (HIPAA 164.316(b)(2))", years=6)


def client_data(ctx: SchedulingContext, *, audit: Documents, erasures: Documents) -> ClientData:
    stores = ctx.stores
    return ClientData(
        service="scheduling",
        holdings=(
            Holding(stores.clients, field="_id", retain=SESSIONS),
            Holding(stores.session_refs, retain=SESSIONS),
            Holding(stores.calendar_feeds, field="owner_id"),
            Holding(audit, retain=ACCESS_AUDIT),
        ),
        erasures=erasures,
        clock=ctx.clock,
    )
