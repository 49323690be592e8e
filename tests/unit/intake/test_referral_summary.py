"""The referral summary a proposed therapist reads: codes, bands and windows, never the record."""

from __future__ import annotations

from services.intake.api.views import referral_view
from tests.unit.intake import samples


async def test_the_referral_summary_holds_codes_bands_and_windows_only() -> None:
    intake = await samples.submitted(samples.context(), **samples.HIGH_RISK)

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
