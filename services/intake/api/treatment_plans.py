"""The personalized treatment plan: written by the client's clinician, versioned, readable in full."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from services.intake.api.access import client_record_for
from services.intake.api.context import AuditChange, ClientId, Stores
from services.intake.api.refusals import invalid_fields
from services.intake.api.views import PlanView, plan_view
from services.intake.commands.write_treatment_plan import TreatmentPlanInput, write_treatment_plan
from services.intake.domain.intake import FieldError
from services.intake.store.client_records import therapists_of
from services.intake.store.treatment_plans import latest_version, version_id
from shared.http.auth import Principal, Role
from shared.http.dependencies import Audit, Caller, Cipher, Runtime, requires
from shared.http.problems import Problem
from shared.storage import Document

router = APIRouter(tags=["treatment plans"])

PlanWriter = Annotated[Principal, Depends(requires(Role.clinician, Role.admin, Role.service))]
Version = Annotated[int, Path(ge=1, le=100_000)]


@router.put(
    "/clients/{client_id}/treatment-plan",
    response_model=PlanView,
    responses={201: {"model": PlanView, "description": "A new version was written"}},
)
async def put_treatment_plan(
    client_id: ClientId,
    plan: TreatmentPlanInput,
    who: PlanWriter,
    stores: Stores,
    cipher: Cipher,
    runtime: Runtime,
    audit: AuditChange,
) -> JSONResponse:
    """Write a new version of the plan (201); the current plan sent again changes nothing (200).

    Each version publishes `treatment-plan-updated`; `status: completed` ends care.
    """
    record = await client_record_for(who, client_id, stores)
    therapist_id = _treating_therapist(who, plan, therapists_of(record))
    version, created = await write_treatment_plan(
        stores,
        cipher,
        client_id,
        plan,
        therapist_id=therapist_id,
        written_by={"subject": who.subject, "role": who.role.value},
        now=runtime.clock(),
    )
    action = "write" if created else "read"  # an unchanged plan sent again only reads the current one
    await audit.wrote(action, resource="treatment_plan", resource_id=str(version["_id"]), client_id=client_id)
    view = plan_view(version, cipher)
    return JSONResponse(view.model_dump(mode="json"), status_code=201 if created else 200)


@router.get("/clients/{client_id}/treatment-plan", response_model=PlanView)
async def read_treatment_plan(
    client_id: ClientId, who: Caller, stores: Stores, cipher: Cipher, audit: Audit
) -> PlanView:
    """The current version of the client's plan."""
    record = await client_record_for(who, client_id, stores)
    current = await latest_version(stores.plans, client_id, known=int(record.get("plan_version", 0)))
    return await _read_version(client_id, current, stores, cipher, audit)


@router.get("/clients/{client_id}/treatment-plan/versions", response_model=list[PlanView])
async def list_treatment_plan_versions(
    client_id: ClientId, who: Caller, stores: Stores, cipher: Cipher, audit: Audit
) -> list[PlanView]:
    """Every version of the plan, oldest first: old versions stay readable."""
    record = await client_record_for(who, client_id, stores)
    current = await latest_version(stores.plans, client_id, known=int(record.get("plan_version", 0)))
    await audit.read(resource="treatment_plan_versions", resource_id=client_id, client_id=client_id)
    versions = [await stores.plans.get(version_id(client_id, n)) for n in range(1, current + 1)]
    return [plan_view(version, cipher) for version in versions if version is not None]


@router.get("/clients/{client_id}/treatment-plan/versions/{version}", response_model=PlanView)
async def read_treatment_plan_version(
    client_id: ClientId, version: Version, who: Caller, stores: Stores, cipher: Cipher, audit: Audit
) -> PlanView:
    await client_record_for(who, client_id, stores)
    return await _read_version(client_id, version, stores, cipher, audit)


async def _read_version(
    client_id: str, version: int, stores: Stores, cipher: Cipher, audit: Audit
) -> PlanView:
    found: Document | None = await stores.plans.get(version_id(client_id, version)) if version else None
    if found is None:
        raise Problem(404, "Not Found", "no such treatment plan version")
    await audit.read(resource="treatment_plan", resource_id=str(found["_id"]), client_id=client_id)
    return plan_view(found, cipher)


def _treating_therapist(who: Principal, plan: TreatmentPlanInput, clinicians: list[str]) -> str:
    """A clinician writes as themselves; an admin or service names the therapist, or the latest one counts."""
    if who.role is Role.clinician:
        if plan.therapist_id not in (None, who.subject):
            raise invalid_fields([FieldError("body.therapist_id", "a clinician writes plans as themselves")])
        return who.subject
    if plan.therapist_id is not None:
        return plan.therapist_id
    if clinicians:
        return clinicians[-1]
    raise invalid_fields(
        [FieldError("body.therapist_id", "required: the client has no clinician on record yet")]
    )
