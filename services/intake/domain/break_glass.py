"""Break-glass: the on-call clinician paged for a client reads the client's record, for a while.

A client with a moderate or high risk screen is paged to the on-call rota (notifications);
the clinician who answers may not be in the client's care. They ask, with a reason, and
get read access to the record until the grant expires, when:

- they are on intake's on-call rota (`INTAKE_ON_CALL_ROTA`; empty: nobody, no break-glass);
- intake raised a risk flag for the client within the recent window
  (`INTAKE_BREAK_GLASS_RISK_WINDOW_HOURS`): the page they answer.

Anything else is refused exactly as a client they may not see (404). The grant reads
only: no write goes through it (`shared.care.access.decide`), and it ends by itself.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.intake.domain.risk import ALERTING
from shared.care.access import BreakGlass
from shared.events.common import RiskLevel

BreakGlassReason = Literal["risk_alert_page", "crisis_contact", "safety_check"]


class BreakGlassRequest(BaseModel):
    """Why the on-call clinician opens the record: a code for the audit trail, and their words."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(
        min_length=3,
        max_length=500,
        description="Why the record is needed now (free text, encrypted at rest, never logged)",
        examples=["paged for high risk; client not answering the phone"],
    )
    reason_code: BreakGlassReason = Field(
        default="risk_alert_page", description="The kind of emergency, recorded in the audit trail"
    )


class Refusal(StrEnum):
    """Why no grant was given (the audit basis of the refusal; the caller gets 404)."""

    not_on_call = "not_on_call"
    no_recent_risk_flag = "no_recent_risk_flag"


def refusal(
    therapist_id: str,
    *,
    rota: Collection[str],
    flagged: Iterable[tuple[RiskLevel, datetime]],
    now: datetime,
    window: timedelta,
) -> Refusal | None:
    """None when `therapist_id` may break the glass now; `flagged`: the client's screens (level, when)."""
    if therapist_id not in rota:
        return Refusal.not_on_call
    if not any(level in ALERTING and now - window <= at <= now for level, at in flagged):
        return Refusal.no_recent_risk_flag
    return None


def grant(therapist_id: str, *, now: datetime, lasts: timedelta) -> BreakGlass:
    return BreakGlass(therapist_id=therapist_id, granted_at=now, expires_at=now + lasts)
