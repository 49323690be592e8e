"""SMS and push land on a lock screen: in discreet wording (the default) they never say what the care is.

Every template is rendered in both locales for SMS and push: the text and the push title
name no therapy, therapist, session, plan, intake, check-in, risk or harm (the crisis lines'
own public text aside: the numbers are what a client in crisis needs). E-mail and the
in-app inbox keep their full wording; turning discreet wording off restores it for SMS and
push too.
"""

from __future__ import annotations

import re

import pytest

from services.notifications.channels.webhook import payload
from services.notifications.domain import audience
from services.notifications.handlers.on_risk_flagged import on_risk_flagged
from services.notifications.rendering import LOCALES, Rendered, Renderer
from shared.care.crisis_resources import INTERNATIONAL, LANGUAGES, RESOURCES
from tests.unit.notifications import samples
from tests.unit.notifications.harness import envelope_of, harness
from tests.unit.notifications.messages import every_notice

APP = "https://app.carepath.example"
DISCREET = Renderer(app_url=APP)
FULL = Renderer(app_url=APP, discreet=False)
TELLING = re.compile(
    r"therap|terap|session|sesi[oó]n|treatment|tratamiento|\bplan\b|intake|cuestionario|check-in|"
    r"risk|riesgo|harm|daño|suicid|crisis|mental|clinic|cl[ií]nic|psych|psic|join:|únete",
    re.IGNORECASE,
)
PUBLIC_CRISIS_TEXT = sorted(
    {
        line.in_language(language).how
        for lines in (*RESOURCES.values(), INTERNATIONAL)
        for line in lines
        for language in LANGUAGES
    },
    key=len,
    reverse=True,
)


def render(renderer: Renderer, notice: audience.Notice, locale: str, channel: str) -> Rendered:
    return renderer.render(
        notice.kind,
        notice.audience,
        context=notice.context,
        locale=locale,
        zone="Europe/London",
        channel=channel,
    )


def without_public_crisis_text(text: str) -> str:
    for public in PUBLIC_CRISIS_TEXT:
        text = text.replace(public, " ")
    return text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("channel", ["sms", "push"])
def test_no_lock_screen_text_says_what_the_care_is(locale: str, channel: str) -> None:
    for notice in every_notice():
        message = render(DISCREET, notice, locale, channel)
        shown = without_public_crisis_text(f"{message.subject} {message.short}")
        assert not TELLING.findall(shown), (notice.kind, notice.audience, shown)
        assert message.subject == "Carepath" and message.short and "\n" not in message.short


def test_an_appointment_reminder_says_when_and_where_to_look() -> None:
    reminders = [n for n in every_notice() if n.kind == "session_reminder" and n.audience == "client"]
    (notice,) = [n for n in reminders if n.context["lead"] == "24h"]

    english = render(DISCREET, notice, "en", "sms").short
    spanish = render(DISCREET, notice, "es", "sms").short

    assert english == (
        "Carepath reminder: you have an appointment in 24 hours, "
        "on Tuesday, March 10, 2026 at 3:00 PM GMT. Details in the app."
    )
    assert spanish.startswith("Recordatorio de Carepath: tienes una cita dentro de 24 horas, el martes")


@pytest.mark.parametrize("channel", ["email", "in_app"])
def test_e_mail_and_the_in_app_inbox_keep_the_full_wording(channel: str) -> None:
    for notice in every_notice():
        for locale in LOCALES:
            assert render(DISCREET, notice, locale, channel) == render(FULL, notice, locale, channel)


def test_with_discreet_wording_off_sms_and_push_say_it_in_full() -> None:
    (notice,) = [n for n in every_notice() if n.kind == "session_booked" and n.audience == "client"]

    full = render(FULL, notice, "en", "push")

    assert full.subject == "Your introduction session is booked"
    assert full.short.startswith("Carepath: your introduction session is booked for ")
    assert render(DISCREET, notice, "en", "push").short.startswith("Carepath: you have an appointment on ")


def test_a_crisis_message_keeps_its_numbers_but_not_its_reason() -> None:
    (notice,) = audience.risk_flagged(samples.risk_flagged(jurisdiction="US-NY"))

    discreet = render(DISCREET, notice, "en", "sms").short
    full = render(FULL, notice, "en", "sms").short

    assert "harming yourself" in full and "harming" not in discreet
    assert "988" in discreet and "741741" in discreet and "911" in discreet


async def test_the_push_a_provider_receives_has_a_discreet_title_and_text_by_default() -> None:
    h = harness()
    await h.register("client-1", phone="+15550001111", push_token="push-token-0001")
    await h.register("oncall-1", role="on_call", phone="+15550002222", push_token="push-token-0002")
    event = samples.risk_flagged()

    await on_risk_flagged(h.ctx)(event, envelope_of(event))

    for outbound in h.sent("push") + h.sent("sms"):
        sent = payload(outbound)
        shown = without_public_crisis_text(f"{sent.get('title', '')} {sent['text']}")
        assert not TELLING.findall(shown), shown
    (page,) = h.sent("push", "oncall-1")
    assert payload(page)["title"] == "Carepath" and payload(page)["text"].startswith("URGENT Carepath")


def test_discreet_wording_is_on_unless_the_setting_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.notifications.settings import NotificationsSettings

    monkeypatch.setenv("NOTIFICATIONS_ON_CALL_ROTA", "oncall-1")
    assert NotificationsSettings().discreet_wording is True
    monkeypatch.setenv("NOTIFICATIONS_DISCREET_WORDING", "false")
    assert NotificationsSettings().discreet_wording is False
