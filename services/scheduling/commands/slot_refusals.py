"""How a slot refusal is answered: too soon or too far is bad input (422), the rest a conflict (409)."""

from __future__ import annotations

from services.scheduling.commands.refusals import Refused
from services.scheduling.domain.slots import Refusal

_DETAILS = {
    Refusal.outside_horizon: "starts_at is beyond the therapist's booking horizon",
    Refusal.too_short_notice: "starts_at is sooner than the therapist's minimum notice",
    Refusal.not_offered: "the therapist does not offer a slot starting at starts_at",
    Refusal.outside_client_windows: "starts_at is outside the client's windows",
    Refusal.taken: "the slot is taken",
    Refusal.daily_cap_reached: "the therapist's daily cap is reached on that day",
}


def refused(refusal: Refusal) -> Refused:
    status = 422 if refusal in (Refusal.outside_horizon, Refusal.too_short_notice) else 409
    return Refused(status, refusal.value, _DETAILS[refusal], field="starts_at")
