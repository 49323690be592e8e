"""Check-ins: created when scheduling says one is due, answered by the client, scored against the baseline.

A check-in left unanswered past its window expires as `missed`: the client and the
therapist see it so, and answering it is refused (409 `check_in_missed`). Crisis
resources in an answer fit the client's latest intake (country, language). Answering is
the client's own: a clinician with the record answers for them only as an explicit
on-behalf entry (`on_behalf_of`), audited and marked in the check-in and the event.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from services.intake.api.access import Granted, client_record_for, ensure_entry, ensure_visible
from services.intake.api.audit import AuditChange
from services.intake.api.dependencies import CheckInId, ClientId, Context
from services.intake.api.views import CheckInView, check_in_view
from services.intake.commands.answer_check_in import AnswerCheckIn, answer_check_in
from services.intake.context import IntakeContext
from services.intake.domain.check_ins import CheckInAnswers
from services.intake.domain.on_behalf import ON_BEHALF_OF, OnBehalfOf
from services.intake.store.intakes import latest_submitted, whereabouts_of
from services.intake.store.treatment_plans import current_plan
from shared.http.dependencies import Audit
from shared.http.scopes import INTAKE_WRITE
from shared.storage import Document

router = APIRouter(tags=["check-ins"])


class CheckInResponse(CheckInAnswers):
    on_behalf_of: OnBehalfOf | None = Field(
        default=None,
        description="A clinician's entry for the client: how and why (clinicians only, required for them)",
    )


@router.get("/clients/{client_id}/check-ins", response_model=list[CheckInView])
async def list_check_ins(client_id: ClientId, ctx: Context, audit: Audit) -> list[CheckInView]:
    """The client's check-ins, oldest first: pending (to answer), completed (with their change) or missed."""
    granted = await client_record_for(audit, client_id, ctx, resource="check_ins")
    await audit.read(resource="check_ins", resource_id=client_id, client_id=client_id, basis=granted.basis)
    found = [await ctx.check_ins.get(i) for i in granted.record.check_in_ids]
    return await _views([c for c in found if c is not None], granted, ctx)


@router.get("/check-ins/{check_in_id}", response_model=CheckInView)
async def read_check_in(check_in_id: CheckInId, ctx: Context, audit: Audit) -> CheckInView:
    check_in = await ctx.check_ins.get(check_in_id)
    granted = await ensure_visible(audit, check_in, ctx, resource="check_in", resource_id=check_in_id)
    assert check_in is not None  # ensure_visible answered 404 otherwise
    await audit.read(
        resource="check_in", resource_id=check_in_id, client_id=granted.client_id, basis=granted.basis
    )
    (view,) = await _views([check_in], granted, ctx)
    return view


@router.post("/check-ins/{check_in_id}/responses", response_model=CheckInView)
async def answer(
    check_in_id: CheckInId, response: CheckInResponse, ctx: Context, audit: AuditChange
) -> CheckInView:
    """Answer the check-in: PHQ-9, GAD-7, the screener when item 9 > 0, progress 0–10 per plan goal.

    Answers with the change against the intake baseline and, when the re-screen is
    moderate or high, crisis resources where the client lives. A second answer returns
    the first one's result; a check-in that expired as missed is refused (409).
    """
    check_in = await ctx.check_ins.get(check_in_id)
    granted = await ensure_visible(
        audit, check_in, ctx, resource="check_in", resource_id=check_in_id, scope=INTAKE_WRITE, writes=True
    )
    on_behalf, basis = await ensure_entry(
        audit, granted, response.on_behalf_of, resource="check_in", resource_id=check_in_id
    )
    answers = CheckInAnswers.model_validate(response.model_dump(exclude={ON_BEHALF_OF}))
    command = AnswerCheckIn(check_in_id=check_in_id, answers=answers, now=ctx.clock(), on_behalf=on_behalf)
    completed = await answer_check_in(command, ctx)
    await audit.wrote(
        "answer", resource="check_in", resource_id=check_in_id, client_id=granted.client_id, basis=basis
    )
    (view,) = await _views([completed], granted, ctx)
    return view


async def _views(check_ins: list[Document], granted: Granted, ctx: IntakeContext) -> list[CheckInView]:
    """Each check-in as the caller sees it: a pending one with the current plan's goals to rate;
    crisis resources fit to the client's latest intake (country, language)."""
    record = granted.record
    goals: list[str] = []
    if any(check_in["status"] == "pending" for check_in in check_ins):
        plan = await current_plan(ctx.plans, record.client_id, known=record.plan_version)
        goals = [str(goal["code"]) for goal in plan.get("goals", [])] if plan else []
    where = whereabouts_of(await latest_submitted(ctx.intakes, record.intake_ids))
    cipher = await ctx.reader_for(record.client_id)
    return [check_in_view(c, cipher, goals_to_rate=goals, where=where) for c in check_ins]
