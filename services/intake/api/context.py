"""What the intake routes ask for besides the shared dependencies: the stores, ids in paths."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from services.intake.store import CHECK_INS, CLIENTS, INTAKES, TREATMENT_PLANS, IntakeStores
from shared.http.dependencies import Runtime
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

IntakeId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
ClientId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
CheckInId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
