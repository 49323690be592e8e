"""Crisis help fits where the client lives and the language they read (DOMAIN.md)."""

from __future__ import annotations

import pytest

from shared.care.crisis_resources import RESOURCES, SERVED_COUNTRIES, crisis_resources


def contacts(jurisdiction: str | None, *languages: str) -> list[str]:
    return [r.contact for r in crisis_resources(jurisdiction, languages)]


def test_every_country_the_system_serves_has_its_own_crisis_resources() -> None:
    missing = [country for country in SERVED_COUNTRIES if country not in RESOURCES]
    assert not missing, f"served without crisis resources: {missing}"
    for country in SERVED_COUNTRIES:
        codes = [r.code for r in crisis_resources(country)]
        assert "emergency" in codes and len(codes) >= 2, country


@pytest.mark.parametrize(
    ("jurisdiction", "expected"),
    [
        ("US-CA", ["988", "741741", "911"]),
        ("CA-ON", ["988", "911"]),
        ("GB", ["116 123", "111", "85258", "999 or 112"]),
        ("IE", ["116 123", "50808", "112 or 999"]),
        ("ES-MD", ["024", "112"]),
        ("NL", ["113", "112"]),
        ("MX-CMX", ["800 911 2000", "911"]),
    ],
)
def test_a_client_gets_the_lines_of_their_own_country(jurisdiction: str, expected: list[str]) -> None:
    assert contacts(jurisdiction, "en") == expected


def test_a_client_elsewhere_gets_the_international_fallback() -> None:
    assert contacts("JP-13", "ja") == ["findahelpline.com", "112"]
    assert contacts(None) == ["findahelpline.com", "112"]


def test_a_spanish_speaker_reads_spanish() -> None:
    in_spanish = crisis_resources("MX-CMX", ["es-MX", "en"])
    assert in_spanish[0].how.startswith("Llama")
    assert crisis_resources("US-TX", ["es"])[0].how.startswith("Llama o envía")
    assert crisis_resources("US-TX", ["en", "es"])[0].how.startswith("Call or text 988")
