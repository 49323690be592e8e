"""The audit entry of a change: `AuditChange` is the shared `Audit` that also records writes.

A write route needs one audit dependency for its access decision (reads, refusals) and
its change alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from shared.http.dependencies import AuditedRead, Caller, CorrelationId, Runtime


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
        await self._record(action, resource, resource_id, client_id, basis)


async def audited_change(who: Caller, correlation_id: CorrelationId, runtime: Runtime) -> AuditedChange:
    return AuditedChange(who=who, correlation_id=correlation_id, log=runtime.audit)


AuditChange = Annotated[AuditedChange, Depends(audited_change)]
