"""Every template renders in English and Spanish, for every channel, in the recipient's zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from icalendar import Calendar

from services.notifications.domain.calendar import session_calendar
from services.notifications.domain.messages import TEMPLATES, Audience, MessageKind
from services.notifications.rendering import LOCALES, Renderer, supported_locale
from tests.unit.notifications import samples
from tests.unit.notifications.messages import every_notice

RENDERER = Renderer(app_url="https://app.carepath.example")
CHANNELS = ("email", "sms", "push", "in_app")


def test_the_sample_notices_cover_every_template() -> None:
    assert {(n.kind, n.audience) for n in every_notice()} == TEMPLATES


@pytest.mark.parametrize("locale", LOCALES)
def test_every_template_renders_every_part_in_both_locales(locale: str) -> None:
    for notice in every_notice():
        for channel in CHANNELS:
            message = RENDERER.render(
                notice.kind,
                notice.audience,
                context=notice.context,
                locale=locale,
                zone="America/New_York",
                channel=channel,
            )
            assert message.subject and message.body and message.short, (notice.kind, notice.audience)
            assert message.locale == locale
            assert "\n" not in message.subject and "\n" not in message.short


def test_english_and_spanish_say_it_in_their_own_words() -> None:
    notice = next(n for n in every_notice() if n.kind is MessageKind.session_booked)
    english, spanish = (
        RENDERER.render(
            notice.kind,
            notice.audience,
            context=notice.context,
            locale=loc,
            zone="America/New_York",
            channel="email",
        )
        for loc in ("en", "es")
    )

    assert english.subject == "Your introduction session is booked"
    assert spanish.subject == "Tu sesión de presentación está reservada"
    assert "Tuesday, March 10, 2026 at 11:00 AM EDT" in english.body
    assert "martes, 10 de marzo de 2026, a las 11:00 EDT" in spanish.body


def test_times_are_shown_in_the_recipients_zone() -> None:
    notice = next(n for n in every_notice() if n.kind is MessageKind.session_booked)

    madrid = RENDERER.render(
        notice.kind, notice.audience, context=notice.context, locale="en", zone="Europe/Madrid", channel="sms"
    )

    assert "4:00 PM CET" in madrid.short


def test_regional_locales_fall_back_to_their_language_and_unknown_ones_to_english() -> None:
    assert supported_locale("es-MX") == "es"
    assert supported_locale("fr") == "en"
    assert supported_locale(None) == "en"


def test_the_html_email_escapes_what_a_link_could_smuggle_in() -> None:
    notice = next(n for n in every_notice() if n.kind is MessageKind.session_booked)
    context = {**notice.context, "join_url": "https://meet.example/<script>alert(1)</script>"}

    message = RENDERER.render(
        notice.kind, notice.audience, context=context, locale="en", zone="UTC", channel="email"
    )

    assert "<script>" not in message.html
    assert "&lt;script&gt;" in message.html
    assert "<script>" in message.body  # plain text is never read as HTML


def test_crisis_resources_name_988_and_the_crisis_text_line_in_both_locales() -> None:
    for locale in LOCALES:
        message = RENDERER.render(
            MessageKind.crisis_resources,
            Audience.client,
            context={},
            locale=locale,
            zone="UTC",
            channel="sms",
        )
        assert "988" in message.short
        assert "HOME" in message.short and "741741" in message.short


def test_the_session_calendar_is_valid_icalendar_with_a_stable_uid() -> None:
    notice = next(n for n in every_notice() if n.kind is MessageKind.session_booked)
    now = datetime(2026, 3, 2, tzinfo=UTC)

    first = Calendar.from_ical(
        session_calendar(notice.context, summary="Session", description="Join", organizer="a@b.c", now=now)
    )
    again = Calendar.from_ical(
        session_calendar(notice.context, summary="Session", description="Join", organizer="a@b.c", now=now)
    )
    event = first.walk("VEVENT")[0]

    assert event["UID"] == again.walk("VEVENT")[0]["UID"] == "session-1@carepath"
    assert event.decoded("DTSTART") == samples.STARTS
    assert str(event["URL"]) == samples.JOIN_URL
    assert first["METHOD"] == "PUBLISH"


def test_a_cancelled_session_calendar_cancels_the_same_event() -> None:
    notice = next(n for n in every_notice() if n.kind is MessageKind.session_cancelled)

    calendar = Calendar.from_ical(
        session_calendar(
            notice.context, summary="S", description="D", organizer="a@b.c", now=samples.NOW, cancelled=True
        )
    )

    assert calendar["METHOD"] == "CANCEL"
    assert calendar.walk("VEVENT")[0]["STATUS"] == "CANCELLED"
    assert calendar.walk("VEVENT")[0]["UID"] == "session-1@carepath"
