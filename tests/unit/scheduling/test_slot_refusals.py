"""How each slot refusal is told: too soon or too far is bad input, the rest a conflict; both name
`body.starts_at` and keep the refusal's code."""

from __future__ import annotations

import pytest

from services.scheduling.domain.slot_refusals import invalid, refused
from services.scheduling.domain.slots import Refusal
from shared.refusals import Conflict, FieldProblem, Invalid


@pytest.mark.parametrize(
    ("refusal", "kind"),
    [
        (Refusal.outside_horizon, Invalid),
        (Refusal.too_short_notice, Invalid),
        (Refusal.not_offered, Conflict),
        (Refusal.outside_client_windows, Conflict),
        (Refusal.taken, Conflict),
        (Refusal.daily_cap_reached, Conflict),
    ],
)
def test_a_slot_refusal_is_bad_input_only_when_too_soon_or_too_far(refusal: Refusal, kind: type) -> None:
    told = refused(refusal)

    assert type(told) is kind and told.code == refusal.value
    assert told.errors == (FieldProblem("body.starts_at", told.message),)


def test_bad_input_keeps_its_detail_as_scheduling_always_worded_it() -> None:
    told = invalid("body.weekly[1]", "overlaps weekly[0]", detail="weekly[1]: overlaps weekly[0]")

    assert told.message == "weekly[1]: overlaps weekly[0]"
    assert told.errors == (FieldProblem("body.weekly[1]", "overlaps weekly[0]"),)
