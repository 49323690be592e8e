"""Intakes: a draft filled in at the client's own pace, then submitted, scored and screened.

Every route decides access by the client's care relationships (`api/access.py`): the
client, an admin or a service with the scope (`intake:read`, `intake:write`), or a
therapist the client chose or is in care with. Writing is the client's own: a clinician
with the record starts, saves or submits an intake for the client only as an explicit
on-behalf entry (`on_behalf_of`), audited and marked in the record and the event.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.intake.api import break_glass
from services.intake.api.access import allowed_for, client_record_for, ensure_allowed, ensure_entry
from services.intake.api.audit import AuditChange
from services.intake.api.dependencies import ClientId, Context, IntakeId
from services.intake.api.fhir import intake_bundle
from services.intake.api.views import (
    IntakeSummary,
    IntakeView,
    SubmissionView,
    intake_summary,
    intake_view,
    submission_view,
)
from services.intake.commands.create_intake import CreateIntake, create_intake
from services.intake.commands.save_intake_sections import SaveIntakeSections, save_intake_sections
from services.intake.commands.submit_intake import SubmitIntake, submit_intake
from services.intake.domain.intake import IntakeSections, NewIntake
from services.intake.domain.on_behalf import ON_BEHALF_OF, OnBehalfOf
from shared.http.dependencies import Audit
from shared.http.scopes import INTAKE_WRITE
from shared.refusals import Conflict

router = APIRouter(tags=["intakes"])
router.include_router(break_glass.router)  # served with intake's routes; its own module

FHIR_JSON = "application/fhir+json"

ON_BEHALF_DESCRIPTION = "A clinician's entry for the client: how and why (clinicians only, required for them)"


class NewIntakeRequest(NewIntake):
    on_behalf_of: OnBehalfOf | None = Field(default=None, description=ON_BEHALF_DESCRIPTION)


class IntakeChanges(IntakeSections):
    on_behalf_of: OnBehalfOf | None = Field(default=None, description=ON_BEHALF_DESCRIPTION)


class Submission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on_behalf_of: OnBehalfOf | None = Field(default=None, description=ON_BEHALF_DESCRIPTION)


def _sections(given: IntakeSections) -> frozenset[str]:
    """The sections a request sent (`on_behalf_of` is about the entry, not a section)."""
    return frozenset(given.model_fields_set - {ON_BEHALF_OF})


@router.post("/intakes", status_code=201, response_model=IntakeView)
async def start_intake(new: NewIntakeRequest, ctx: Context, audit: AuditChange) -> IntakeView:
    """Start a draft with any sections already filled in; each given section is validated now."""
    granted = await allowed_for(audit, new.client_id, ctx, resource="intake", scope=INTAKE_WRITE, writes=True)
    on_behalf, basis = await ensure_entry(
        audit, granted, new.on_behalf_of, resource="intake", resource_id=new.client_id
    )
    command = CreateIntake(
        new=new,
        fields=_sections(new),
        created_by={"subject": audit.who.subject, "role": audit.who.role.value},
        now=ctx.clock(),
        on_behalf=on_behalf,
    )
    draft = await create_intake(command, ctx)
    await audit.wrote(
        "create",
        resource="intake",
        resource_id=str(draft["_id"]),
        client_id=new.client_id,
        basis=basis,
    )
    return intake_view(draft, await ctx.reader_for(new.client_id))


@router.get("/intakes/{intake_id}", response_model=IntakeView)
async def read_intake(intake_id: IntakeId, ctx: Context, audit: Audit) -> IntakeView:
    intake = await ctx.intakes.get(intake_id)
    granted = await ensure_allowed(audit, intake, ctx, resource="intake", resource_id=intake_id)
    assert intake is not None  # ensure_allowed answered 404 otherwise
    await audit.read(
        resource="intake", resource_id=intake_id, client_id=granted.client_id, basis=granted.basis
    )
    return intake_view(intake, await ctx.reader_for(str(intake["client_id"])))


@router.patch("/intakes/{intake_id}", response_model=IntakeView)
async def save_intake(
    intake_id: IntakeId, changes: IntakeChanges, ctx: Context, audit: AuditChange
) -> IntakeView:
    """Save sections at any time before submission; 409 after.

    Each section sent replaces that section whole; one sent as null is cleared; sections
    not sent stay as they were.
    """
    intake = await ctx.intakes.get(intake_id)
    granted = await ensure_allowed(
        audit, intake, ctx, resource="intake", resource_id=intake_id, scope=INTAKE_WRITE, writes=True
    )
    on_behalf, basis = await ensure_entry(
        audit, granted, changes.on_behalf_of, resource="intake", resource_id=intake_id
    )
    command = SaveIntakeSections(
        intake_id=intake_id, changes=changes, fields=_sections(changes), now=ctx.clock(), on_behalf=on_behalf
    )
    saved = await save_intake_sections(command, ctx)
    await audit.wrote(
        "update", resource="intake", resource_id=intake_id, client_id=granted.client_id, basis=basis
    )
    return intake_view(saved, await ctx.reader_for(str(saved["client_id"])))


@router.post("/intakes/{intake_id}/submit", response_model=SubmissionView)
async def submit(
    intake_id: IntakeId, ctx: Context, audit: AuditChange, body: Submission | None = None
) -> SubmissionView:
    """Check completeness (every missing field at once), score, screen risk and publish.

    A moderate or high risk answers with crisis resources for the client's country, in
    their language. An intake from a country not served (`INTAKE_SERVED_COUNTRIES`) is
    refused with 422 naming `jurisdiction`. Submitting again returns the same answer and
    publishes nothing.
    """
    intake = await ctx.intakes.get(intake_id, writing=True)  # the submit's write then reads nothing
    # The client's own submit reads nothing more: their record is read for a clinician only.
    granted = await ensure_allowed(
        audit, intake, ctx, resource="intake", resource_id=intake_id, scope=INTAKE_WRITE, writes=True
    )
    on_behalf, basis = await ensure_entry(
        audit, granted, (body or Submission()).on_behalf_of, resource="intake", resource_id=intake_id
    )
    command = SubmitIntake(
        intake_id=intake_id, now=ctx.clock(), on_behalf=on_behalf, client_id=granted.client_id
    )
    submitted = await submit_intake(command, ctx)
    await audit.wrote(
        "submit", resource="intake", resource_id=intake_id, client_id=granted.client_id, basis=basis
    )
    return submission_view(submitted)


@router.get(
    "/intakes/{intake_id}/fhir",
    response_class=JSONResponse,
    responses={200: {"content": {FHIR_JSON: {}}, "description": "A FHIR R4 Bundle (collection)"}},
)
async def read_intake_as_fhir(intake_id: IntakeId, ctx: Context, audit: Audit) -> JSONResponse:
    """The submitted intake's PHQ-9 and GAD-7 as a FHIR R4 Bundle (QuestionnaireResponses, Observations)."""
    intake = await ctx.intakes.get(intake_id)
    granted = await ensure_allowed(audit, intake, ctx, resource="intake", resource_id=intake_id)
    assert intake is not None  # ensure_allowed answered 404 otherwise
    if intake["status"] != "submitted":
        raise Conflict("the intake is a draft; it has no scores to export yet")
    await audit.read(
        resource="intake", resource_id=intake_id, client_id=granted.client_id, basis=granted.basis
    )
    return JSONResponse(intake_bundle(intake), media_type=FHIR_JSON)


@router.get("/clients/{client_id}/intakes", response_model=list[IntakeSummary])
async def list_intakes(client_id: ClientId, ctx: Context, audit: Audit) -> list[IntakeSummary]:
    """The client's intakes, oldest first (ids and status, to resume a draft)."""
    granted = await client_record_for(audit, client_id, ctx, resource="client_intakes")
    await audit.read(
        resource="client_intakes", resource_id=client_id, client_id=client_id, basis=granted.basis
    )
    found = [await ctx.intakes.get(intake_id) for intake_id in granted.record.intake_ids]
    return [intake_summary(intake) for intake in found if intake is not None]
