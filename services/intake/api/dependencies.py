"""What the intake routes ask for besides the shared dependencies: the service context and path ids.

The path aliases keep their `Path(...)` arguments exactly: they are part of the OpenAPI
document. An id that could never exist (`ID_PATTERN`) is refused with 422 at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from services.intake.context import IntakeContext
from shared.events.common import ID_PATTERN
from shared.http.dependencies import service_context

Context = Annotated[IntakeContext, Depends(service_context)]

IntakeId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
ClientId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
CheckInId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
Version = Annotated[int, Path(ge=1, le=100_000)]
"""A treatment plan version number."""
