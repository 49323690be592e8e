"""What scheduling's routes ask for besides the caller: the service context and the path ids.

The path aliases keep the exact `Path(...)` of every route, so the OpenAPI document stays as
it is; the pattern is the one id pattern of `shared/events/common.py`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from services.scheduling.context import SchedulingContext
from shared.events.common import ID_PATTERN
from shared.http.dependencies import service_context

Context = Annotated[SchedulingContext, Depends(service_context)]

TherapistId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
ClientId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
SessionId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
