"""No rendered message shows a score, a severity, a concern, a reason or any free text.

Every template is rendered, in both locales and for every channel (subject, body, SMS and
push text, HTML e-mail, calendar summary), from events carrying recognisable clinical
values; none of them may appear.
"""

from __future__ import annotations

import re

import pytest

from services.notifications.rendering import LOCALES, Renderer
from tests.unit.notifications import samples
from tests.unit.notifications.messages import every_notice

RENDERER = Renderer(app_url="https://app.carepath.example")


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
            text = " ".join(
                [message.subject, message.body, message.short, message.html, message.calendar_summary or ""]
            ).lower()
            shown = [value for value in samples.FORBIDDEN if value in text]
            shown += [n for n in samples.FORBIDDEN_NUMBERS if re.search(rf"\b{n}\b", text)]
            assert not shown, f"{notice.kind}/{notice.audience}/{locale}/{channel} shows {shown}"


def test_message_contexts_hold_only_ids_times_links_and_plain_codes() -> None:
    allowed = {
        "session_id", "client_id", "starts_at", "ends_at", "minutes", "format", "session_kind", "join_url",
        "sequence", "timezone", "previous_starts_at", "calendar_sequence", "cancelled_by", "lead",
        "check_in_id", "due_at", "version", "status", "attention", "source", "candidates",
    }  # fmt: skip
    for notice in every_notice():
        assert set(notice.context) <= allowed, notice.kind
