"""How a slot refusal is told: too soon or too far is bad input (`Invalid`), the rest a `Conflict`.

Either names `body.starts_at`, the field the caller sent, with the refusal's code.
`invalid` words any bad input naming its field the way scheduling always answered it
(the booking's `override_reason`, an availability rule that cannot hold).
"""

from __future__ import annotations

from services.scheduling.domain.slots import Refusal
from shared.refusals import Conflict, FieldProblem, Invalid, Refused

_DETAILS = {
    Refusal.outside_horizon: "starts_at is beyond the therapist's booking horizon",
    Refusal.too_short_notice: "starts_at is sooner than the therapist's minimum notice",
    Refusal.not_offered: "the therapist does not offer a slot starting at starts_at",
    Refusal.outside_client_windows: "starts_at is outside the client's windows",
    Refusal.taken: "the slot is taken",
    Refusal.daily_cap_reached: "the therapist's daily cap is reached on that day",
}
_BAD_INPUT = (Refusal.outside_horizon, Refusal.too_short_notice)


def refused(refusal: Refusal) -> Refused:
    detail = _DETAILS[refusal]
    if refusal in _BAD_INPUT:
        return invalid("body.starts_at", detail, code=refusal.value)
    return Conflict(detail, code=refusal.value, errors=[FieldProblem("body.starts_at", detail)])


def invalid(field: str, message: str, *, code: str | None = None, detail: str | None = None) -> Invalid:
    """Bad input naming `field`, its detail `detail` (by default `message`) as scheduling always said it."""
    return Invalid([FieldProblem(field, message)], code=code, message=detail or message)
