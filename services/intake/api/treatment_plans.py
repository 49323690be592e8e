"""The personalized treatment plan: written by the therapist in care, versioned, acknowledged by the client.

Reading follows the care relationship like the rest of the record. Writing asks for more
(`ensure_plan_author`): the therapist in care, or an admin or service for them; a chosen
therapist who has not held the introduction yet gets 409 `not_in_care`, anyone without
record access 404. The draft offers the therapist in care the client's intake goals to
start from; the client acknowledges the current version, and the plan view shows when.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.intake.api.access import client_record_for, ensure_plan_author
from services.intake.api.audit import AuditChange
from services.intake.api.dependencies import ClientId, Context, Version
from services.intake.api.views import PlanDraftView, PlanView, plan_view
from services.intake.commands.acknowledge_plan import AcknowledgePlan, acknowledge_plan
from services.intake.commands.write_treatment_plan import (
    TreatmentPlanInput,
    WriteTreatmentPlan,
    starting_goals,
    write_treatment_plan,
)
from services.intake.context import IntakeContext
from services.intake.domain.client_record import ClientRecord
from services.intake.domain.intake import Integer
from services.intake.store.intakes import latest_submitted
from services.intake.store.treatment_plans import latest_version, version_id
from shared.http.auth import Principal, Role
from shared.http.dependencies import Audit, requires
from shared.http.scopes import PLANS_WRITE
from shared.refusals import NotFound
from shared.storage import Document

router = APIRouter(tags=["treatment plans"])

PlanWriter = Annotated[Principal, Depends(requires(Role.clinician, Role.admin, Role.service))]
TheClient = Annotated[Principal, Depends(requires(Role.client))]


class Acknowledgement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Integer = Field(ge=1, le=100_000, description="The version the client read: the current one")


@router.put(
    "/clients/{client_id}/treatment-plan",
    response_model=PlanView,
    responses={
        201: {"model": PlanView, "description": "A new version was written"},
        409: {"description": "`not_in_care`: the introduction has not been held yet"},
    },
)
async def put_treatment_plan(
    client_id: ClientId, plan: TreatmentPlanInput, who: PlanWriter, ctx: Context, audit: AuditChange
) -> JSONResponse:
    """Write a new version of the plan (201); the current plan sent again changes nothing (200).

    The first plan sent without `goals` takes the client's intake goals. Each version
    publishes `treatment-plan-updated`; `status: completed` ends care.
    """
    granted = await client_record_for(
        audit, client_id, ctx, resource="treatment_plan", scope=PLANS_WRITE, writes=True
    )
    therapist_id = await ensure_plan_author(audit, granted, named=plan.therapist_id)
    command = WriteTreatmentPlan(
        client_id=client_id,
        plan=plan,
        therapist_id=therapist_id,
        written_by={"subject": who.subject, "role": who.role.value},
        now=ctx.clock(),
    )
    version, created = await write_treatment_plan(command, ctx)
    action = "write" if created else "read"  # an unchanged plan sent again only reads the current one
    await audit.wrote(
        action,
        resource="treatment_plan",
        resource_id=str(version["_id"]),
        client_id=client_id,
        basis=granted.basis,
    )
    view = plan_view(
        version,
        await ctx.reader_for(client_id),
        acknowledged_at=granted.record.acknowledged_at(int(version["version"])),
    )
    return JSONResponse(view.model_dump(mode="json"), status_code=201 if created else 200)


@router.get(
    "/clients/{client_id}/treatment-plan/draft",
    response_model=PlanDraftView,
    responses={409: {"description": "`not_in_care`: the introduction has not been held yet"}},
)
async def draft_treatment_plan(
    client_id: ClientId, who: PlanWriter, ctx: Context, audit: Audit
) -> PlanDraftView:
    """A starting plan for the therapist in care: the client's intake goals, each at the default target.

    Adjust it and `PUT` it as the plan; the goals keep `from_intake: true`.
    """
    granted = await client_record_for(
        audit, client_id, ctx, resource="treatment_plan_draft", scope=PLANS_WRITE, writes=True
    )
    therapist_id = await ensure_plan_author(audit, granted, named=None)
    intake = await latest_submitted(ctx.intakes, granted.record.intake_ids)
    await audit.read(
        resource="treatment_plan_draft", resource_id=client_id, client_id=client_id, basis=granted.basis
    )
    preferences = (intake["sections"].get("preferences") or {}) if intake else {}
    return PlanDraftView(
        client_id=client_id,
        therapist_id=therapist_id,
        intake_id=str(intake["_id"]) if intake else None,
        approach=preferences.get("approach"),
        goals=starting_goals(intake, await ctx.reader_for(client_id)),
    )


@router.get("/clients/{client_id}/treatment-plan", response_model=PlanView)
async def read_treatment_plan(client_id: ClientId, ctx: Context, audit: Audit) -> PlanView:
    """The current version of the client's plan, with when the client acknowledged it."""
    granted = await client_record_for(audit, client_id, ctx, resource="treatment_plan")
    current = await latest_version(ctx.plans, client_id, known=granted.record.plan_version)
    return await _read_version(granted.record, current, ctx, audit, basis=granted.basis)


@router.get("/clients/{client_id}/treatment-plan/versions", response_model=list[PlanView])
async def list_treatment_plan_versions(client_id: ClientId, ctx: Context, audit: Audit) -> list[PlanView]:
    """Every version of the plan, oldest first: old versions stay readable."""
    granted = await client_record_for(audit, client_id, ctx, resource="treatment_plan_versions")
    record = granted.record
    current = await latest_version(ctx.plans, client_id, known=record.plan_version)
    await audit.read(
        resource="treatment_plan_versions", resource_id=client_id, client_id=client_id, basis=granted.basis
    )
    versions = [await ctx.plans.get(version_id(client_id, n)) for n in range(1, current + 1)]
    cipher = await ctx.reader_for(client_id)
    return [
        plan_view(v, cipher, acknowledged_at=record.acknowledged_at(int(v["version"])))
        for v in versions
        if v is not None
    ]


@router.get("/clients/{client_id}/treatment-plan/versions/{version}", response_model=PlanView)
async def read_treatment_plan_version(
    client_id: ClientId, version: Version, ctx: Context, audit: Audit
) -> PlanView:
    granted = await client_record_for(audit, client_id, ctx, resource="treatment_plan")
    return await _read_version(granted.record, version, ctx, audit, basis=granted.basis)


@router.post(
    "/clients/{client_id}/treatment-plan/acknowledgement",
    response_model=PlanView,
    responses={409: {"description": "`not_current_version`: only the current version can be acknowledged"}},
)
async def acknowledge_treatment_plan(
    client_id: ClientId, acknowledgement: Acknowledgement, who: TheClient, ctx: Context, audit: AuditChange
) -> PlanView:
    """The client acknowledges the current version they read; acknowledging it again keeps the first time.

    The therapist sees `acknowledged_at` in the plan view.
    """
    granted = await client_record_for(audit, client_id, ctx, resource="treatment_plan", writes=True)
    command = AcknowledgePlan(client_id=client_id, version=acknowledgement.version, now=ctx.clock())
    version, when = await acknowledge_plan(command, ctx)
    await audit.wrote(
        "acknowledge",
        resource="treatment_plan",
        resource_id=str(version["_id"]),
        client_id=client_id,
        basis=granted.basis,
    )
    return plan_view(version, await ctx.reader_for(client_id), acknowledged_at=when)


async def _read_version(
    record: ClientRecord, version: int, ctx: IntakeContext, audit: Audit, *, basis: str
) -> PlanView:
    client_id = record.client_id
    found: Document | None = await ctx.plans.get(version_id(client_id, version)) if version else None
    if found is None:
        raise NotFound("no such treatment plan version")
    await audit.read(
        resource="treatment_plan", resource_id=str(found["_id"]), client_id=client_id, basis=basis
    )
    return plan_view(found, await ctx.reader_for(client_id), acknowledged_at=record.acknowledged_at(version))
