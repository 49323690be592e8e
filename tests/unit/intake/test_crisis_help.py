"""Crisis help where the client lives, in their language; intakes only from countries served."""

from __future__ import annotations

import pytest

from services.intake.api.views import submission_view
from services.intake.commands.submit_intake import SubmitIntake, submit_intake
from services.intake.domain.crisis import Whereabouts, crisis_resources_for
from services.intake.domain.intake import IntakeSections, jurisdiction_problem, submission_problems
from services.intake.settings import IntakeSettings
from shared.care.crisis_resources import SERVED_COUNTRIES, has_resources
from shared.events.common import RiskLevel
from shared.events.models import RiskFlagged
from shared.refusals import Invalid
from tests.support.fakes import InMemoryDocuments
from tests.unit.intake import samples


def contacts(level: RiskLevel, jurisdiction: str | None, *languages: str) -> set[str]:
    found = crisis_resources_for(level, Whereabouts.of(jurisdiction, languages)) or []
    return {resource["contact"] for resource in found}


def test_every_country_intake_serves_by_default_has_crisis_resources() -> None:
    """A served country without its row would show a client in crisis another country's numbers."""
    served = IntakeSettings().served_countries
    assert set(served) == set(SERVED_COUNTRIES)
    assert [country for country in served if not has_resources(country)] == []


def test_a_configured_country_without_crisis_resources_is_refused() -> None:
    with pytest.raises(ValueError, match="no crisis resources for ZZ"):
        IntakeSettings(served_countries=["US", "ZZ"])


@pytest.mark.parametrize(
    ("jurisdiction", "expected"),
    [
        ("US-CA", {"988", "741741", "911"}),
        ("CA-ON", {"988", "911"}),
        ("GB-ENG", {"116 123", "111", "85258", "999 or 112"}),
        ("IE", {"116 123", "50808", "112 or 999"}),
        ("ES-MD", {"024", "112"}),
        ("NL-NH", {"113", "112"}),
        ("MX-CMX", {"800 911 2000", "911"}),
        ("BR-SP", {"findahelpline.com", "112"}),  # not served: the international fallback
    ],
)
def test_crisis_resources_are_those_of_the_clients_country(jurisdiction: str, expected: set[str]) -> None:
    assert contacts(RiskLevel.high, jurisdiction, "en") == expected


def test_a_spanish_speaker_reads_the_resources_in_spanish() -> None:
    where = Whereabouts.of("ES-MD", ["es", "en"])
    resources = crisis_resources_for(RiskLevel.moderate, where) or []
    assert resources[0]["name"] == "024 Línea de atención a la conducta suicida"
    assert resources[-1]["how"].startswith("Llama al 112")


@pytest.mark.parametrize("level", [RiskLevel.none, RiskLevel.low])
def test_no_crisis_resources_below_a_moderate_screen(level: RiskLevel) -> None:
    assert crisis_resources_for(level, Whereabouts.of("GB", ["en"])) is None


def test_an_intake_from_a_country_not_served_names_its_jurisdiction() -> None:
    sections = IntakeSections.model_validate(samples.complete_sections(jurisdiction="BR-SP"))
    assert [p.field for p in submission_problems(sections, served=["US", "GB"])] == ["jurisdiction"]
    assert jurisdiction_problem("GB-SCT", ["US", "GB"]) is None
    assert jurisdiction_problem("US-CA", ["GB"]) is not None


async def test_a_submission_from_a_country_not_served_is_refused_and_nothing_is_published() -> None:
    ctx = samples.context(served=["US", "MX"])
    draft = await samples.draft(ctx, **samples.complete_sections(jurisdiction="BR-SP", **samples.HIGH_RISK))
    intake_id = str(draft["_id"])
    with pytest.raises(Invalid) as refused:
        await submit_intake(SubmitIntake(intake_id=intake_id, now=ctx.clock()), ctx)
    assert [e.field for e in refused.value.errors] == ["jurisdiction"]
    stored = await ctx.intakes.get(intake_id)
    assert stored is not None and stored["status"] == "draft"
    assert isinstance(ctx.intakes, InMemoryDocuments) and ctx.intakes.events == []


async def test_a_high_risk_intake_answers_with_its_countrys_help_and_flags_the_country_and_language() -> None:
    ctx = samples.context()
    intake = await samples.submitted(ctx, jurisdiction="MX-JAL", languages=["es-MX"], **samples.HIGH_RISK)
    view = submission_view(intake)
    assert {r.contact for r in view.crisis_resources or []} == {"800 911 2000", "911"}
    assert (view.crisis_resources or [])[0].how.startswith("Llama")
    assert isinstance(ctx.intakes, InMemoryDocuments)
    flagged = ctx.intakes.events[0].data
    assert isinstance(flagged, RiskFlagged)
    assert (flagged.jurisdiction, flagged.language) == ("MX-JAL", "es-MX")
