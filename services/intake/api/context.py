"""What the intake routes ask for besides the shared dependencies: stores, settings, path ids, audit.

`AuditChange` is the shared `Audit` (reads, refusals) that also records changes, so a
write route needs one audit dependency for its access decision and its change alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path

from services.intake.settings import IntakeSettings
from services.intake.store import CHECK_INS, CLIENTS, INTAKES, TREATMENT_PLANS, IntakeStores
from shared.http.dependencies import AuditedRead, Caller, CorrelationId, Runtime
from shared.observability.audit import Access
from shared.runtime import ServiceRuntime

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
"""The shared `Id` pattern: a path id that could never exist is refused with 422 at once."""


def stores_of(runtime: ServiceRuntime) -> IntakeStores:
    return IntakeStores(
        clients=runtime.documents(CLIENTS),
        intakes=runtime.documents(INTAKES),
        plans=runtime.documents(TREATMENT_PLANS),
        check_ins=runtime.documents(CHECK_INS),
    )


async def intake_stores(runtime: Runtime) -> IntakeStores:
    """The service's stores, registered by `app.py` before the runtime started."""
    return stores_of(runtime)


Stores = Annotated[IntakeStores, Depends(intake_stores)]


async def intake_settings(runtime: Runtime) -> IntakeSettings:
    """The settings `app.py` built the runtime with."""
    settings = runtime.settings
    if not isinstance(settings, IntakeSettings):
        raise RuntimeError("the intake routes run on a runtime built with IntakeSettings")
    return settings


Settings = Annotated[IntakeSettings, Depends(intake_settings)]

IntakeId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
ClientId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
CheckInId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]


@dataclass(frozen=True, slots=True)
class AuditedChange(AuditedRead):
    """Records a change of clinical data in the audit trail, as `AuditedRead` records a read.

    Reads and changes are both HIPAA-audited; this records what a write did (`create`,
    `update`, `submit`, `answer`, `write`, `acknowledge`) and on what basis it was allowed.
    A write's answer echoes the record it changed, so this entry covers that view too.
    """

    async def wrote(
        self, action: str, *, resource: str, resource_id: str, client_id: str, basis: str | None = None
    ) -> None:
        await self.log.record(
            Access(
                actor=self.who.subject,
                role=self.who.role.value,
                action=action,
                resource=resource,
                resource_id=resource_id,
                client_id=client_id,
                correlation_id=self.correlation_id,
                basis=basis,
            )
        )


async def audited_change(who: Caller, correlation_id: CorrelationId, runtime: Runtime) -> AuditedChange:
    return AuditedChange(who=who, correlation_id=correlation_id, log=runtime.audit)


AuditChange = Annotated[AuditedChange, Depends(audited_change)]
