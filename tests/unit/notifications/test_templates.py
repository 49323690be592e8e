"""Every template renders in English and Spanish, for every channel, in the recipient's zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from icalendar import Calendar

from services.notifications.domain import audience
from services.notifications.domain.audience import Notice
from services.notifications.domain.calendar import session_calendar
from services.notifications.domain.messages import TEMPLATES, Audience, MessageKind, stored_context
from services.notifications.rendering import LOCALES, Rendered, Renderer, supported_locale
from tests.unit.notifications import samples
from tests.unit.notifications.messages import every_notice

# The full wording of every channel; SMS and push in discreet wording (the default) are
# tested in test_discreet_wording.py.
RENDERER = Renderer(app_url="https://app.carepath.example", discreet=False)
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


def render(
    notice: Notice, *, locale: str = "en", zone: str = "America/New_York", channel: str = "email"
) -> Rendered:
    return RENDERER.render(
        notice.kind, notice.audience, context=notice.context, locale=locale, zone=zone, channel=channel
    )


def crisis_notice(jurisdiction: str | None, language: str | None = None) -> Notice:
    (notice,) = audience.risk_flagged(samples.risk_flagged(jurisdiction=jurisdiction, language=language))
    return notice


def test_crisis_resources_in_the_us_name_988_the_crisis_text_line_and_911_in_both_locales() -> None:
    for locale in LOCALES:
        message = render(crisis_notice("US-NY", locale), locale=locale, channel="sms")
        assert "988" in message.short
        assert "HOME" in message.short and "741741" in message.short
        assert "911" in message.short


def test_crisis_resources_in_gb_name_samaritans_nhs_111_and_999() -> None:
    message = render(crisis_notice("GB-ENG"), locale="en")

    assert "Samaritans: Call 116 123 (free, 24/7)" in message.body
    assert "NHS 111" in message.body and "Call 999 or 112" in message.body
    assert "988" not in message.body and "911" not in message.body


def test_crisis_resources_for_a_spanish_speaker_in_mexico_are_in_spanish() -> None:
    message = render(crisis_notice("MX-CMX", "es"), locale="es", channel="sms")

    assert message.short.startswith("Carepath: si piensas en hacerte daño")
    assert "Llama al 800 911 2000 (gratis, 24/7)" in message.short
    assert "988" not in message.short


def test_crisis_resources_elsewhere_fall_back_to_a_helpline_directory_and_emergency_number() -> None:
    message = render(crisis_notice("BR-SP"), locale="en")

    assert "findahelpline.com" in message.body and "112 works in most countries" in message.body
    assert "988" not in message.body


def test_the_on_call_page_names_the_clients_country() -> None:
    known = audience.on_call_page(
        "oncall-1", audience.risk_context(samples.risk_flagged(jurisdiction="GB-ENG")), "a"
    )
    unknown = audience.on_call_page(
        "oncall-1", audience.risk_context(samples.risk_flagged(jurisdiction=None)), "a"
    )

    assert "Country: GB" in render(known).body
    assert "(country: GB)" in render(known, channel="sms").short
    assert "País: GB" in render(known, locale="es").body
    assert "Country: unknown" in render(unknown).body
    assert "País: desconocido" in render(unknown, locale="es").body
    assert "988" not in render(known).body


def test_proposal_wording_says_why_it_was_made() -> None:
    subjects = {
        origin: render(
            audience.match_proposed(samples.match_proposed(candidates=2, origin=origin))[0]
        ).subject
        for origin in ("intake", "expired", "waitlist")
    }
    (waitlisted,) = audience.match_proposed(samples.match_proposed(candidates=0, waitlisted=True))

    assert subjects == {
        "intake": "Your therapist matches are ready",
        "expired": "New therapist matches for you",
        "waitlist": "A therapist is now available for you",
    }
    renewed = render(audience.match_proposed(samples.match_proposed(candidates=2, origin="expired"))[0])
    assert "earlier therapist proposal lapsed" in renewed.body
    assert "Please choose by Wednesday, March 4, 2026 at 4:00 AM EST" in renewed.body
    assert render(waitlisted).subject == "You are on our waitlist"
    assert "as soon as a therapist is free" in render(waitlisted).body
    assert "keep looking" not in render(waitlisted).body
    assert render(waitlisted, locale="es").subject == "Estás en nuestra lista de espera"


def test_a_no_show_introduction_lists_the_offered_slots_in_the_clients_zone_with_how_to_book() -> None:
    (notice,) = audience.session_attendance_recorded(samples.session_attendance_recorded(), timezone="UTC")

    english = render(notice, zone="America/New_York")
    spanish = render(notice, locale="es", zone="Europe/Madrid", channel="sms")

    assert english.subject == "Your introduction session did not take place"
    assert "care has not started yet" in english.body
    assert (
        "- Wednesday, March 11, 2026 at 11:00 AM EDT\n- Thursday, March 12, 2026 at 11:00 AM EDT"
        in english.body
    )
    assert "https://app.carepath.example/sessions/session-1/rebook" in english.body
    assert "Próximo horario libre: miércoles, 11 de marzo de 2026, a las 16:00 CET" in spanish.short


def test_a_no_show_introduction_without_free_slots_still_says_how_to_book() -> None:
    (notice,) = audience.session_attendance_recorded(
        samples.session_attendance_recorded(offered_slots=()), timezone=None
    )

    message = render(notice, channel="sms")

    assert "Next free time" not in message.short
    assert "https://app.carepath.example/sessions/session-1/rebook" in message.short


def test_a_held_introduction_tells_the_client_the_plan_is_written_with_them() -> None:
    (notice,) = audience.session_attendance_recorded(
        samples.session_attendance_recorded(attendance="held"), timezone=None
    )

    assert "will write your treatment plan with you" in render(notice).body
    assert "escribirá contigo tu plan de tratamiento" in render(notice, locale="es").body


def test_a_plan_version_is_ready_to_read_and_acknowledge() -> None:
    (first,) = audience.treatment_plan_updated(samples.treatment_plan_updated(version=1))
    (later,) = audience.treatment_plan_updated(samples.treatment_plan_updated(version=4))

    assert render(first).subject == "Your treatment plan is ready to read"
    assert "confirm that you have read it: https://app.carepath.example/plan" in render(first).body
    assert "(version 4)" in render(later).body
    assert "confirma que lo has leído" in render(later, locale="es").body


def test_the_check_in_reminder_links_the_check_in() -> None:
    (notice,) = audience.check_in_reminder(check_in_id="checkin-1", client_id="client-1", due_at=samples.NOW)

    message = render(notice, channel="push")

    assert message.subject == "Reminder: your check-in is waiting"
    assert message.short.endswith("https://app.carepath.example/check-ins/checkin-1")


def test_the_therapist_prompt_for_missed_check_ins_says_how_many_in_a_row() -> None:
    (notice,) = audience.check_in_missed(samples.check_in_missed(consecutive_missed=2))

    assert render(notice).subject == "Client client-1 has missed their check-ins"
    assert "missed 2 check-ins in a row" in render(notice).body
    assert "no ha respondido a 2 seguimientos seguidos" in render(notice, locale="es").body


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


def test_messages_claimed_before_this_version_still_render() -> None:
    crisis = stored_context(MessageKind.crisis_resources, {})
    page = stored_context(MessageKind.risk_alert, {"client_id": "client-1", "source": "intake"})
    ready = {"candidates": 2}  # a proposal message held through quiet hours across the upgrade

    assert (
        "findahelpline.com"
        in RENDERER.render(
            MessageKind.crisis_resources,
            Audience.client,
            context=crisis,
            locale="es",
            zone="UTC",
            channel="sms",
        ).short
    )
    assert (
        "Country: unknown"
        in RENDERER.render(
            MessageKind.risk_alert, Audience.clinician, context=page, locale="en", zone="UTC", channel="email"
        ).body
    )
    assert (
        RENDERER.render(
            MessageKind.matches_ready, Audience.client, context=ready, locale="en", zone="UTC", channel="sms"
        ).short
        == "Carepath: your therapist matches are ready. Choose yours: https://app.carepath.example/matches"
    )
