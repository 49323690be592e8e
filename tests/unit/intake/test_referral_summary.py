"""The referral summary a proposed therapist reads: codes, bands and windows, never the record."""

from __future__ import annotations

from services.intake.api.views import referral_view
from services.intake.commands.create_intake import create_intake
from services.intake.commands.submit_intake import submit_intake
from services.intake.domain.intake import NewIntake
from tests.support.fakes import ManualClock
from tests.unit.intake import samples


async def test_the_referral_summary_holds_codes_bands_and_windows_only() -> None:
    stores, cipher, clock = samples.stores(), samples.cipher(), ManualClock()
    new = NewIntake.model_validate(
        {"client_id": "client-1", **samples.complete_sections(**samples.HIGH_RISK)}
    )
    created = await create_intake(
        stores, cipher, new, fields=new.model_fields_set, created_by={}, now=clock()
    )
    intake = await submit_intake(stores, cipher, str(created["_id"]), now=clock())

    summary = referral_view(intake).model_dump(mode="json")

    assert set(summary) == {
        "client_id",
        "intake_id",
        "submitted_at",
        "concerns",
        "risk_level",
        "preferred_format",
        "languages",
        "availability",
        "jurisdiction",
        "timezone",
    }
    assert (summary["risk_level"], summary["preferred_format"]) == ("high", "either")
    assert summary["concerns"] == ["anxiety", "stress"]
    assert summary["availability"] == [{"day": "tuesday", "start": "09:00", "end": "17:00"}]
    text = str(summary)
    for secret in (
        samples.BACKGROUND,
        samples.GOAL_TEXT,
        "sertraline",
        "generalized anxiety",
        "reduce_panic",
    ):
        assert secret not in text
    assert "phq9" not in text and "cssrs" not in text
