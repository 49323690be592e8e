"""Check-ins: created when scheduling says one is due, answered by the client, scored against the baseline."""

from __future__ import annotations

from fastapi import APIRouter

from services.intake.api.access import client_record_for, ensure_visible
from services.intake.api.context import AuditChange, CheckInId, ClientId, Stores
from services.intake.api.views import CheckInView, check_in_view
from services.intake.commands.answer_check_in import CheckInAnswers, answer_check_in
from services.intake.store import IntakeStores
from services.intake.store.client_records import client_record
from services.intake.store.treatment_plans import latest_version, version_id
from shared.http.dependencies import Audit, Caller, Cipher, Runtime
from shared.storage import Document

router = APIRouter(tags=["check-ins"])


@router.get("/clients/{client_id}/check-ins", response_model=list[CheckInView])
async def list_check_ins(
    client_id: ClientId, who: Caller, stores: Stores, cipher: Cipher, audit: Audit
) -> list[CheckInView]:
    """The client's check-ins, oldest first: pending ones to answer, completed ones with their change."""
    record = await client_record_for(who, client_id, stores)
    await audit.read(resource="check_ins", resource_id=client_id, client_id=client_id)
    goals = await _goals_to_rate(stores, record)
    found = [await stores.check_ins.get(check_in_id) for check_in_id in record.get("check_in_ids", [])]
    return [check_in_view(c, cipher, goals_to_rate=goals) for c in found if c is not None]


@router.get("/check-ins/{check_in_id}", response_model=CheckInView)
async def read_check_in(
    check_in_id: CheckInId, who: Caller, stores: Stores, cipher: Cipher, audit: Audit
) -> CheckInView:
    check_in = await ensure_visible(who, await stores.check_ins.get(check_in_id), stores, "check-in")
    client_id = str(check_in["client_id"])
    await audit.read(resource="check_in", resource_id=check_in_id, client_id=client_id)
    goals = await _goals_to_rate(stores, await client_record(stores.clients, client_id))
    return check_in_view(check_in, cipher, goals_to_rate=goals)


@router.post("/check-ins/{check_in_id}/responses", response_model=CheckInView)
async def answer(
    check_in_id: CheckInId,
    answers: CheckInAnswers,
    who: Caller,
    stores: Stores,
    cipher: Cipher,
    runtime: Runtime,
    audit: AuditChange,
) -> CheckInView:
    """Answer the check-in: PHQ-9, GAD-7, the screener when item 9 > 0, progress 0–10 per plan goal.

    Answers with the change against the intake baseline and, when the re-screen is
    moderate or high, crisis resources. A second answer returns the first one's result.
    """
    await ensure_visible(who, await stores.check_ins.get(check_in_id), stores, "check-in")
    completed = await answer_check_in(stores, cipher, check_in_id, answers, now=runtime.clock())
    client_id = str(completed["client_id"])
    await audit.wrote("answer", resource="check_in", resource_id=check_in_id, client_id=client_id)
    return check_in_view(completed, cipher, goals_to_rate=[])


async def _goals_to_rate(stores: IntakeStores, record: Document) -> list[str]:
    client_id = str(record["client_id"])
    version = await latest_version(stores.plans, client_id, known=int(record.get("plan_version", 0)))
    plan = await stores.plans.get(version_id(client_id, version)) if version else None
    return [str(goal["code"]) for goal in plan.get("goals", [])] if plan else []
