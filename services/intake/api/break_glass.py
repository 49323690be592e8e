"""Break-glass: the on-call clinician paged for a client opens the client's record to read.

`POST /clients/{id}/break-glass {reason, reason_code}` by a clinician on intake's on-call
rota (`INTAKE_ON_CALL_ROTA`), while intake raised a risk flag for the client recently
(`INTAKE_BREAK_GLASS_RISK_WINDOW_HOURS`), grants read access to the record until it
expires (`INTAKE_BREAK_GLASS_HOURS`, 4 h by default). Every other request is refused with
the 404 of a client that does not exist, and audited with why (`not_on_call`,
`no_recent_risk_flag`). The grant is audited (basis `break_glass`, the reason code in the
action); its free-text reason is sealed in the client's record, never logged. Reads under
the grant are audited with basis `break_glass`; no write goes through it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from services.intake.api.audit import AuditChange
from services.intake.api.dependencies import ClientId, Context
from services.intake.context import IntakeContext
from services.intake.domain.break_glass import BreakGlassRequest, grant, refusal
from services.intake.domain.client_record import BreakGlassGrant, ClientRecord
from services.intake.settings import IntakeSettings
from services.intake.store.client_records import break_glass_reason_context, client_record, record_break_glass
from services.intake.store.sealing import seal
from shared.care.access import BREAK_GLASS
from shared.events.common import RiskLevel
from shared.http.auth import Principal, Role
from shared.http.dependencies import Runtime, requires
from shared.refusals import NotFound

router = APIRouter(tags=["break-glass"])

Clinician = Annotated[Principal, Depends(requires(Role.clinician))]

SCREENS_LOOKED_AT = 20
"""The client's latest intakes and check-ins looked at for a recent risk flag (each)."""


class BreakGlassView(BaseModel):
    client_id: str
    therapist_id: str
    reason_code: str
    granted_at: datetime
    expires_at: datetime


@router.post(
    "/clients/{client_id}/break-glass",
    status_code=201,
    response_model=BreakGlassView,
    responses={404: {"description": "Not on the on-call rota, no recent risk flag, or no such client"}},
)
async def break_glass(
    client_id: ClientId,
    request: BreakGlassRequest,
    who: Clinician,
    ctx: Context,
    audit: AuditChange,
    runtime: Runtime,
) -> BreakGlassView:
    """Read access to the client's record for the on-call clinician paged for them, for a while."""
    settings = runtime.settings
    if not isinstance(settings, IntakeSettings):
        raise RuntimeError("the intake routes run with IntakeSettings")
    now = ctx.clock()
    record = await client_record(ctx.clients, client_id)
    refused = refusal(
        who.subject,
        rota=frozenset(settings.on_call_rota),
        flagged=await _risk_screens(ctx, record),
        now=now,
        window=timedelta(hours=settings.break_glass_risk_window_hours),
    )
    if refused is not None:
        await audit.refused(resource="break_glass", resource_id=client_id, client_id=client_id, basis=refused)
        raise NotFound("no such break glass")
    access = grant(who.subject, now=now, lasts=timedelta(hours=settings.break_glass_hours))
    context = break_glass_reason_context(client_id, who.subject)
    sealed = seal(await ctx.cipher_for(client_id), request.reason, context=context)
    granted = BreakGlassGrant(access, request.reason_code, sealed)
    await ctx.clients.upsert(client_id, record_break_glass(client_id, granted, now))
    await audit.wrote(
        f"grant:{request.reason_code}",
        resource="break_glass",
        resource_id=client_id,
        client_id=client_id,
        basis=BREAK_GLASS,
    )
    return BreakGlassView(
        client_id=client_id,
        therapist_id=who.subject,
        reason_code=request.reason_code,
        granted_at=access.granted_at,
        expires_at=access.expires_at,
    )


async def _risk_screens(ctx: IntakeContext, record: ClientRecord) -> list[tuple[RiskLevel, datetime]]:
    """The risk level and time of the client's latest submitted intakes and completed check-ins."""
    screens: list[tuple[RiskLevel, datetime]] = []
    for store, ids, at in (
        (ctx.intakes, record.intake_ids, "submitted_at"),
        (ctx.check_ins, record.check_in_ids, "completed_at"),
    ):
        for document_id in ids[-SCREENS_LOOKED_AT:]:
            document = await store.get(document_id)
            result = (document or {}).get("result")
            if document is not None and result and document.get(at) is not None:
                screens.append((RiskLevel(result["risk_level"]), document[at]))
    return screens
