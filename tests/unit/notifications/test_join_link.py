"""Only a video session's messages (and their .ics) carry a link to join by.

`session-booked` v1 always has a `join_url` (the session's video room); a phone, chat or
in-person session is not attended through it, so nothing sent about one may offer it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from icalendar import Calendar

from services.notifications.domain import audience
from services.notifications.domain.calendar import session_calendar
from services.notifications.rendering import Renderer
from shared.events.common import SessionFormat
from tests.unit.notifications import samples

RENDERER = Renderer(app_url="https://app.carepath.example")


def rendered_everywhere(notices: list[audience.Notice]) -> str:
    """Every channel's every part of every notice, and each notice's .ics, as one text."""
    parts = []
    for notice in notices:
        for channel in ("email", "sms", "push", "in_app"):
            message = RENDERER.render(
                notice.kind,
                notice.audience,
                context=notice.context,
                locale="en",
                zone="America/New_York",
                channel=channel,
            )
            parts += [message.subject, message.body, message.short, message.html]
        ics = session_calendar(
            notice.context,
            summary="Session",
            description="Session",
            organizer="noreply@carepath.example",
            now=datetime(2026, 3, 1, tzinfo=UTC),
        )
        parts.append(ics.decode().replace("\r\n ", ""))
    return "\n".join(parts)


@pytest.mark.parametrize("session_format", [SessionFormat.phone, SessionFormat.chat, SessionFormat.in_person])
def test_messages_of_a_session_not_held_by_video_offer_no_join_link(session_format: SessionFormat) -> None:
    notices = audience.session_booked(samples.session_booked(format=session_format))

    assert all(notice.context["join_url"] is None for notice in notices)
    assert samples.JOIN_URL not in rendered_everywhere(notices)


def test_messages_of_a_video_session_offer_its_join_link_and_the_ics_carries_it() -> None:
    notices = audience.session_booked(samples.session_booked(format=SessionFormat.video))

    assert samples.JOIN_URL in rendered_everywhere(notices)
    for notice in notices:
        calendar = Calendar.from_ical(
            session_calendar(
                notice.context,
                summary="s",
                description="d",
                organizer="noreply@carepath.example",
                now=datetime.now(UTC),
            )
        )
        [event] = calendar.events
        assert str(event["URL"]) == samples.JOIN_URL
