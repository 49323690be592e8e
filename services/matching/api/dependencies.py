"""What matching's routes ask for besides `shared.http.dependencies`: its context and path ids."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from services.matching.context import MatchingContext
from shared.events.common import ID_PATTERN
from shared.http.dependencies import service_context

Context = Annotated[MatchingContext, Depends(service_context)]

ClientId = Annotated[str, Path(pattern=ID_PATTERN, description="the client's id")]
MatchId = Annotated[str, Path(pattern=ID_PATTERN, description="the match (proposal) id")]
TherapistId = Annotated[str, Path(pattern=ID_PATTERN, description="the therapist's id")]
