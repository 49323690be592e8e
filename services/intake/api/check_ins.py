"""Check-ins: created when scheduling says one is due, answered by the client, scored against the baseline.

A check-in left unanswered past its window expires as `missed`: the client and the
therapist see it so, and answering it is refused (409 `check_in_missed`). Crisis
resources in an answer fit the client's latest intake (country, language).
"""

from __future__ import annotations

from fastapi import APIRouter

from services.intake.api.access import client_record_for, ensure_visible
from services.intake.api.context import AuditChange, CheckInId, ClientId, Stores
from services.intake.api.views import CheckInView, check_in_view
from services.intake.commands.answer_check_in import CheckInAnswers, answer_check_in
from services.intake.domain.crisis import Whereabouts
from services.intake.store import IntakeStores
from services.intake.store.intakes import latest_submitted, whereabouts_of
from services.intake.store.treatment_plans import latest_version, version_id
from shared.http.dependencies import Audit, Cipher, Runtime
from shared.storage import Document

router = APIRouter(tags=["check-ins"])


@router.get("/clients/{client_id}/check-ins", response_model=list[CheckInView])
async def list_check_ins(
    client_id: ClientId, stores: Stores, cipher: Cipher, runtime: Runtime, audit: Audit
) -> list[CheckInView]:
    """The client's check-ins, oldest first: pending (to answer), completed (with their change) or missed."""
    granted = await client_record_for(audit, client_id, stores, now=runtime.clock(), resource="check_ins")
    await audit.read(resource="check_ins", resource_id=client_id, client_id=client_id, basis=granted.basis)
    goals = await _goals_to_rate(stores, granted.record)
    where = await _whereabouts(stores, granted.record)
    found = [await stores.check_ins.get(i) for i in granted.record.get("check_in_ids", [])]
    return [check_in_view(c, cipher, goals_to_rate=goals, where=where) for c in found if c is not None]


@router.get("/check-ins/{check_in_id}", response_model=CheckInView)
async def read_check_in(
    check_in_id: CheckInId, stores: Stores, cipher: Cipher, runtime: Runtime, audit: Audit
) -> CheckInView:
    check_in = await stores.check_ins.get(check_in_id)
    granted = await ensure_visible(
        audit, check_in, stores, now=runtime.clock(), resource="check_in", resource_id=check_in_id
    )
    assert check_in is not None  # ensure_visible answered 404 otherwise
    await audit.read(
        resource="check_in", resource_id=check_in_id, client_id=granted.client_id, basis=granted.basis
    )
    goals = await _goals_to_rate(stores, granted.record)
    where = await _whereabouts(stores, granted.record)
    return check_in_view(check_in, cipher, goals_to_rate=goals, where=where)


@router.post("/check-ins/{check_in_id}/responses", response_model=CheckInView)
async def answer(
    check_in_id: CheckInId,
    answers: CheckInAnswers,
    stores: Stores,
    cipher: Cipher,
    runtime: Runtime,
    audit: AuditChange,
) -> CheckInView:
    """Answer the check-in: PHQ-9, GAD-7, the screener when item 9 > 0, progress 0–10 per plan goal.

    Answers with the change against the intake baseline and, when the re-screen is
    moderate or high, crisis resources where the client lives. A second answer returns
    the first one's result; a check-in that expired as missed is refused (409).
    """
    granted = await ensure_visible(
        audit,
        await stores.check_ins.get(check_in_id),
        stores,
        now=runtime.clock(),
        resource="check_in",
        resource_id=check_in_id,
    )
    completed = await answer_check_in(stores, cipher, check_in_id, answers, now=runtime.clock())
    await audit.wrote(
        "answer",
        resource="check_in",
        resource_id=check_in_id,
        client_id=granted.client_id,
        basis=granted.basis,
    )
    where = await _whereabouts(stores, granted.record)
    return check_in_view(completed, cipher, goals_to_rate=[], where=where)


async def _goals_to_rate(stores: IntakeStores, record: Document) -> list[str]:
    client_id = str(record["client_id"])
    version = await latest_version(stores.plans, client_id, known=int(record.get("plan_version", 0)))
    plan = await stores.plans.get(version_id(client_id, version)) if version else None
    return [str(goal["code"]) for goal in plan.get("goals", [])] if plan else []


async def _whereabouts(stores: IntakeStores, record: Document) -> Whereabouts:
    return whereabouts_of(await latest_submitted(stores.intakes, record.get("intake_ids", [])))
