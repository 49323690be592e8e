"""No rendered message shows a score, a severity, a concern, a reason or any free text.

Every template is rendered, in both locales and for every channel (subject, body, SMS and
push text, HTML e-mail, calendar summary), from events carrying recognisable clinical
values; none of them may appear. The crisis lines a client is shown are fixed public text
(`shared.care.crisis_resources`, "24/7" and all), so they are taken out before the search.
"""

from __future__ import annotations

import html
import re

import pytest

from services.notifications.domain.messages import CRISIS_RESOURCE_FIELDS
from services.notifications.rendering import LOCALES, Renderer
from shared.care.crisis_resources import INTERNATIONAL, LANGUAGES, RESOURCES
from tests.unit.notifications import samples
from tests.unit.notifications.messages import every_notice

RENDERER = Renderer(app_url="https://app.carepath.example")
PUBLIC_CRISIS_TEXT = sorted(
    {
        text.lower()
        for lines in (*RESOURCES.values(), INTERNATIONAL)
        for line in lines
        for language in LANGUAGES
        for text in (line.in_language(language).how, line.in_language(language).name, line.contact)
    },
    key=len,
    reverse=True,
)


def without_public_crisis_text(text: str) -> str:
    for public in PUBLIC_CRISIS_TEXT:
        text = text.replace(public, " ").replace(html.escape(public), " ")
    return text


@pytest.mark.parametrize("locale", LOCALES)
def test_no_score_diagnosis_or_free_text_appears_in_any_rendered_message(locale: str) -> None:
    for notice in every_notice():
        for channel in ("email", "sms", "push", "in_app"):
            message = RENDERER.render(
                notice.kind,
                notice.audience,
                context=notice.context,
                locale=locale,
                zone="America/New_York",
                channel=channel,
            )
            text = without_public_crisis_text(
                " ".join(
                    [
                        message.subject,
                        message.body,
                        message.short,
                        message.html,
                        message.calendar_summary or "",
                    ]
                ).lower()
            )
            shown = [value for value in samples.FORBIDDEN if value in text]
            shown += [n for n in samples.FORBIDDEN_NUMBERS if re.search(rf"\b{n}\b", text)]
            assert not shown, f"{notice.kind}/{notice.audience}/{locale}/{channel} shows {shown}"


def test_message_contexts_hold_only_ids_times_links_and_plain_codes() -> None:
    allowed = {
        "session_id", "client_id", "starts_at", "ends_at", "minutes", "format", "session_kind", "join_url",
        "sequence", "timezone", "previous_starts_at", "calendar_sequence", "cancelled_by", "lead",
        "check_in_id", "due_at", "version", "status", "attention", "source", "candidates",
        "expires_at", "offered_slots", "missed_in_a_row", "country", "resources", "language",
    }  # fmt: skip
    for notice in every_notice():
        assert set(notice.context) <= allowed, notice.kind
        for line in notice.context.get("resources", []):
            assert tuple(line) == CRISIS_RESOURCE_FIELDS, notice.kind
        assert all(isinstance(slot, str) for slot in notice.context.get("offered_slots", []))
