"""The referral summary: what a proposed therapist sees of a client before the client chose anyone.

From the latest submitted intake: concerns, risk band, preferred format, languages,
availability windows, jurisdiction and time zone. Never history, diagnoses, answers,
item scores, goals or free text: a proposed therapist has the client's consent to be
considered, not to read the record (DESIGN §2). Anyone who may read the record may read
this too; every read is audited with its basis.
"""

from __future__ import annotations

from fastapi import APIRouter

from services.intake.api.access import client_record_for
from services.intake.api.dependencies import ClientId, Context
from services.intake.api.views import ReferralView, referral_view
from services.intake.store.intakes import latest_submitted
from shared.care.relationship import Access
from shared.http.dependencies import Audit
from shared.refusals import NotFound

router = APIRouter(tags=["referrals"])


@router.get("/clients/{client_id}/referral", response_model=ReferralView)
async def read_referral(client_id: ClientId, ctx: Context, audit: Audit) -> ReferralView:
    """The client's referral summary (codes, bands and windows only), for a therapist proposed to them."""
    granted = await client_record_for(audit, client_id, ctx, resource="referral", needed=Access.referral)
    intake = await latest_submitted(ctx.intakes, granted.record.intake_ids)
    if intake is None:
        raise NotFound("the client has no submitted intake yet")
    await audit.read(
        resource="referral", resource_id=str(intake["_id"]), client_id=client_id, basis=granted.basis
    )
    return referral_view(intake)
