"""Crisis help where the client lives, in a language they read (DOMAIN.md, crisis resources).

Intake shows these in the submit and check-in answers the moment a screen is moderate or
high; notifications sends them to the client and names the country in the on-call page.
One table, so the answer on screen and the message agree.

A country Carepath serves must have its row before it goes live: `SERVED_COUNTRIES` lists
them, intake refuses an intake from anywhere else, and a unit test fails when a served
country has no row. Anything unknown still gets the international fallback, never nothing.
Text is English, or Spanish for a client whose first language is Spanish.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class CrisisResource:
    code: str
    name: str
    how: str
    contact: str


@dataclass(frozen=True, slots=True)
class _Line:
    code: str
    contact: str
    name: dict[str, str]
    how: dict[str, str]

    def in_language(self, language: str) -> CrisisResource:
        return CrisisResource(self.code, self.name[language], self.how[language], self.contact)


def _emergency(number: str, *, es: str | None = None) -> _Line:
    return _Line(
        "emergency",
        number,
        {"en": "Emergency services", "es": "Servicios de emergencia"},
        {
            "en": f"Call {number} if you are in immediate danger",
            "es": es or f"Llama al {number} si estás en peligro inmediato",
        },
    )


LANGUAGES: Final = ("en", "es")

_SAMARITANS = _Line(
    "samaritans",
    "116 123",
    {"en": "Samaritans", "es": "Samaritans"},
    {"en": "Call 116 123 (free, 24/7)", "es": "Llama al 116 123 (gratis, 24/7)"},
)
"""One line across Great Britain and Ireland."""

RESOURCES: Final[Mapping[str, tuple[_Line, ...]]] = {
    "US": (
        _Line(
            "988_lifeline",
            "988",
            {"en": "988 Suicide & Crisis Lifeline", "es": "988 Línea de Prevención del Suicidio y Crisis"},
            {
                "en": "Call or text 988 (24/7, free and confidential)",
                "es": "Llama o envía un mensaje de texto al 988 (24/7, gratis y confidencial)",
            },
        ),
        _Line(
            "crisis_text_line",
            "741741",
            {"en": "Crisis Text Line", "es": "Crisis Text Line"},
            {"en": "Text HOME to 741741", "es": "Envía HOME por mensaje de texto al 741741"},
        ),
        _emergency("911"),
    ),
    "CA": (
        _Line(
            "988_helpline",
            "988",
            {"en": "9-8-8 Suicide Crisis Helpline", "es": "9-8-8 Línea de Ayuda en Crisis de Suicidio"},
            {
                "en": "Call or text 988 (24/7)",
                "es": "Llama o envía un mensaje de texto al 988 (24/7)",
            },
        ),
        _emergency("911"),
    ),
    "GB": (
        _SAMARITANS,
        _Line(
            "nhs_111",
            "111",
            {"en": "NHS 111", "es": "NHS 111"},
            {
                "en": "Call 111 and choose the mental health option for urgent help",
                "es": "Llama al 111 y elige la opción de salud mental para ayuda urgente",
            },
        ),
        _Line(
            "shout",
            "85258",
            {"en": "Shout", "es": "Shout"},
            {"en": "Text SHOUT to 85258", "es": "Envía SHOUT por mensaje de texto al 85258"},
        ),
        _emergency("999 or 112", es="Llama al 999 o al 112 si estás en peligro inmediato"),
    ),
    "IE": (
        _SAMARITANS,
        _Line(
            "text_50808",
            "50808",
            {"en": "50808 text line", "es": "Línea de texto 50808"},
            {"en": "Text HELLO to 50808", "es": "Envía HELLO por mensaje de texto al 50808"},
        ),
        _emergency("112 or 999", es="Llama al 112 o al 999 si estás en peligro inmediato"),
    ),
    "ES": (
        _Line(
            "linea_024",
            "024",
            {
                "en": "024 Suicidal behaviour helpline",
                "es": "024 Línea de atención a la conducta suicida",
            },
            {"en": "Call 024 (free, 24/7)", "es": "Llama al 024 (gratis, 24/7)"},
        ),
        _emergency("112"),
    ),
    "NL": (
        _Line(
            "113_zelfmoordpreventie",
            "113",
            {"en": "113 Zelfmoordpreventie", "es": "113 Zelfmoordpreventie"},
            {
                "en": "Call 113, or 0800-0113 for free",
                "es": "Llama al 113, o gratis al 0800-0113",
            },
        ),
        _emergency("112"),
    ),
    "MX": (
        _Line(
            "linea_de_la_vida",
            "800 911 2000",
            {"en": "Línea de la Vida", "es": "Línea de la Vida"},
            {"en": "Call 800 911 2000 (free, 24/7)", "es": "Llama al 800 911 2000 (gratis, 24/7)"},
        ),
        _emergency("911"),
    ),
    "DE": (
        _Line(
            "telefonseelsorge",
            "0800 111 0 111",
            {"en": "TelefonSeelsorge", "es": "TelefonSeelsorge"},
            {
                "en": "Call 0800 111 0 111 or 0800 111 0 222 (free, 24/7)",
                "es": "Llama al 0800 111 0 111 o al 0800 111 0 222 (gratis, 24/7)",
            },
        ),
        _emergency("112"),
    ),
    "FR": (
        _Line(
            "3114",
            "3114",
            {
                "en": "3114, national suicide prevention line",
                "es": "3114, línea nacional de prevención del suicidio",
            },
            {"en": "Call 3114 (free, 24/7)", "es": "Llama al 3114 (gratis, 24/7)"},
        ),
        _emergency("112 (or 15)", es="Llama al 112 (o al 15) si estás en peligro inmediato"),
    ),
    "AU": (
        _Line(
            "lifeline",
            "13 11 14",
            {"en": "Lifeline", "es": "Lifeline"},
            {"en": "Call 13 11 14 (24/7)", "es": "Llama al 13 11 14 (24/7)"},
        ),
        _emergency("000"),
    ),
}

INTERNATIONAL: Final[tuple[_Line, ...]] = (
    _Line(
        "helpline_directory",
        "findahelpline.com",
        {"en": "Find a Helpline", "es": "Find a Helpline"},
        {
            "en": "Find a free crisis line in your country at findahelpline.com",
            "es": "Encuentra una línea de crisis gratuita en tu país en findahelpline.com",
        },
    ),
    _Line(
        "emergency",
        "112",
        {"en": "Emergency services", "es": "Servicios de emergencia"},
        {
            "en": "Call your local emergency number if you are in immediate danger "
            "(112 works in most countries)",
            "es": "Llama a tu número local de emergencias si estás en peligro inmediato "
            "(el 112 funciona en la mayoría de los países)",
        },
    ),
)

SERVED_COUNTRIES: Final[tuple[str, ...]] = ("US", "CA", "GB", "IE", "ES", "NL", "MX", "DE", "FR", "AU")
"""Countries whose clients Carepath accepts (each has its row above)."""


def country_of(jurisdiction: str | None) -> str | None:
    """`US` of `US-CA`; None when unknown."""
    return jurisdiction.split("-", 1)[0].upper() if jurisdiction else None


def language_for(languages: Sequence[str]) -> str:
    """Spanish for a client whose first language is Spanish, else English."""
    first = languages[0].split("-", 1)[0].lower() if languages else "en"
    return first if first in LANGUAGES else "en"


def has_resources(country: str) -> bool:
    return country in RESOURCES


def crisis_resources(jurisdiction: str | None, languages: Sequence[str] = ()) -> list[CrisisResource]:
    """The crisis lines and emergency number where the client lives, in their language."""
    country = country_of(jurisdiction)
    lines = RESOURCES.get(country, INTERNATIONAL) if country else INTERNATIONAL
    language = language_for(languages)
    return [line.in_language(language) for line in lines]
