"""Intakes: a draft filled in at the client's own pace, then submitted, scored and screened.

Every route decides access by the client's care relationships (`api/access.py`): the
client, an admin or a service, or a therapist the client chose or is in care with.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.intake.api.access import client_record_for, ensure_visible
from services.intake.api.context import AuditChange, ClientId, IntakeId, Settings, Stores
from services.intake.api.views import (
    IntakeSummary,
    IntakeView,
    SubmissionView,
    intake_summary,
    intake_view,
    submission_view,
)
from services.intake.commands.create_intake import create_intake
from services.intake.commands.save_intake_sections import save_intake_sections
from services.intake.commands.submit_intake import submit_intake
from services.intake.domain.intake import IntakeSections, NewIntake
from services.intake.fhir import intake_bundle
from shared.http.dependencies import Audit, Cipher, Runtime
from shared.http.problems import Problem

router = APIRouter(tags=["intakes"])

FHIR_JSON = "application/fhir+json"


@router.post("/intakes", status_code=201, response_model=IntakeView)
async def start_intake(
    new: NewIntake, stores: Stores, cipher: Cipher, runtime: Runtime, audit: AuditChange
) -> IntakeView:
    """Start a draft with any sections already filled in; each given section is validated now."""
    granted = await client_record_for(audit, new.client_id, stores, now=runtime.clock(), resource="intake")
    draft = await create_intake(
        stores,
        cipher,
        new,
        fields=new.model_fields_set,
        created_by={"subject": audit.who.subject, "role": audit.who.role.value},
        now=runtime.clock(),
    )
    await audit.wrote(
        "create",
        resource="intake",
        resource_id=str(draft["_id"]),
        client_id=new.client_id,
        basis=granted.basis,
    )
    return intake_view(draft, cipher)


@router.get("/intakes/{intake_id}", response_model=IntakeView)
async def read_intake(
    intake_id: IntakeId, stores: Stores, cipher: Cipher, runtime: Runtime, audit: Audit
) -> IntakeView:
    intake = await stores.intakes.get(intake_id)
    granted = await ensure_visible(
        audit, intake, stores, now=runtime.clock(), resource="intake", resource_id=intake_id
    )
    assert intake is not None  # ensure_visible answered 404 otherwise
    await audit.read(
        resource="intake", resource_id=intake_id, client_id=granted.client_id, basis=granted.basis
    )
    return intake_view(intake, cipher)


@router.patch("/intakes/{intake_id}", response_model=IntakeView)
async def save_intake(
    intake_id: IntakeId,
    changes: IntakeSections,
    stores: Stores,
    cipher: Cipher,
    runtime: Runtime,
    audit: AuditChange,
) -> IntakeView:
    """Save sections at any time before submission; 409 after.

    Each section sent replaces that section whole; one sent as null is cleared; sections
    not sent stay as they were.
    """
    granted = await ensure_visible(
        audit,
        await stores.intakes.get(intake_id),
        stores,
        now=runtime.clock(),
        resource="intake",
        resource_id=intake_id,
    )
    saved = await save_intake_sections(
        stores, cipher, intake_id, changes, fields=changes.model_fields_set, now=runtime.clock()
    )
    await audit.wrote(
        "update", resource="intake", resource_id=intake_id, client_id=granted.client_id, basis=granted.basis
    )
    return intake_view(saved, cipher)


@router.post("/intakes/{intake_id}/submit", response_model=SubmissionView)
async def submit(
    intake_id: IntakeId,
    stores: Stores,
    cipher: Cipher,
    runtime: Runtime,
    settings: Settings,
    audit: AuditChange,
) -> SubmissionView:
    """Check completeness (every missing field at once), score, screen risk and publish.

    A moderate or high risk answers with crisis resources for the client's country, in
    their language. An intake from a country not served (`INTAKE_SERVED_COUNTRIES`) is
    refused with 422 naming `jurisdiction`. Submitting again returns the same answer and
    publishes nothing.
    """
    granted = await ensure_visible(
        audit,
        await stores.intakes.get(intake_id),
        stores,
        now=runtime.clock(),
        resource="intake",
        resource_id=intake_id,
    )
    submitted = await submit_intake(
        stores, cipher, intake_id, now=runtime.clock(), served=settings.served_countries
    )
    await audit.wrote(
        "submit", resource="intake", resource_id=intake_id, client_id=granted.client_id, basis=granted.basis
    )
    return submission_view(submitted)


@router.get(
    "/intakes/{intake_id}/fhir",
    response_class=JSONResponse,
    responses={200: {"content": {FHIR_JSON: {}}, "description": "A FHIR R4 Bundle (collection)"}},
)
async def read_intake_as_fhir(
    intake_id: IntakeId, stores: Stores, runtime: Runtime, audit: Audit
) -> JSONResponse:
    """The submitted intake's PHQ-9 and GAD-7 as a FHIR R4 Bundle (QuestionnaireResponses, Observations)."""
    intake = await stores.intakes.get(intake_id)
    granted = await ensure_visible(
        audit, intake, stores, now=runtime.clock(), resource="intake", resource_id=intake_id
    )
    assert intake is not None  # ensure_visible answered 404 otherwise
    if intake["status"] != "submitted":
        raise Problem(409, "Conflict", "the intake is a draft; it has no scores to export yet")
    await audit.read(
        resource="intake", resource_id=intake_id, client_id=granted.client_id, basis=granted.basis
    )
    return JSONResponse(intake_bundle(intake), media_type=FHIR_JSON)


@router.get("/clients/{client_id}/intakes", response_model=list[IntakeSummary])
async def list_intakes(
    client_id: ClientId, stores: Stores, runtime: Runtime, audit: Audit
) -> list[IntakeSummary]:
    """The client's intakes, oldest first (ids and status, to resume a draft)."""
    granted = await client_record_for(
        audit, client_id, stores, now=runtime.clock(), resource="client_intakes"
    )
    await audit.read(
        resource="client_intakes", resource_id=client_id, client_id=client_id, basis=granted.basis
    )
    found = [await stores.intakes.get(intake_id) for intake_id in granted.record.get("intake_ids", [])]
    return [intake_summary(intake) for intake in found if intake is not None]
