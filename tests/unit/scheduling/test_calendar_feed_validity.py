"""A calendar feed is a valid RFC 5545 object, no RFC 5546 message, and links only video sessions.

Parsed back with `icalendar`, every component must carry no parse error and the properties
RFC 5545 requires; a feed that named a METHOD would be an iTIP message, whose PUBLISH
requires an ORGANIZER on every event (RFC 5546 §3.2.1), which strict parsers (ical4j)
enforce. A feed names none.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar, Component

from services.scheduling.domain.cancellation import SessionStatus
from services.scheduling.domain.care import Session, SessionKind
from services.scheduling.domain.ical import calendar_feed, join_link
from shared.events.common import SessionFormat
from tests.unit.scheduling.support import introduction_at

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
STARTS = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
ROOM = "https://video.carepath.example/room/7QmVh1mJ4Tr0bqv5Hnq1sA"


def session(session_id: str, session_format: SessionFormat, *, week: int = 0, **changes: object) -> Session:
    return introduction_at(
        STARTS + timedelta(weeks=week),
        **{
            "session_id": session_id,
            "timezone": "America/New_York",
            "therapist_timezone": "America/New_York",
            "format": session_format.value,
            "join_url": ROOM,
            "updated_at": NOW,
            **changes,
        },
    )


def strictly_parsed(feed: bytes) -> Calendar:
    """The feed parsed back, refusing what a lenient parse would let through."""
    text = feed.decode("utf-8")
    lines = text.split("\r\n")
    assert text.endswith("\r\n") and lines[-1] == "", "every content line ends in CRLF"
    assert "\n" not in text.replace("\r\n", ""), "no bare line feeds"
    assert all(len(line.encode()) <= 75 for line in lines), "lines are folded at 75 octets"
    calendar = Calendar.from_ical(feed)
    components: list[Component] = list(calendar.walk())
    assert [c.errors for c in components] == [[] for _ in components], "a property did not parse"
    return calendar


@pytest.fixture
def feed() -> bytes:
    sessions = [
        session("ses-video", SessionFormat.video),
        session("ses-phone", SessionFormat.phone, week=1),
        session("ses-person", SessionFormat.in_person, week=2),
        session("ses-chat", SessionFormat.chat, week=3, kind=SessionKind.therapy),
        session("ses-gone", SessionFormat.video, week=4, status=SessionStatus.cancelled, revision=1),
    ]
    return calendar_feed(sessions, name="Carepath sessions", feed_id="client-c-1", now=NOW)


def test_feed_parses_back_strictly_with_every_property_rfc_5545_requires(feed: bytes) -> None:
    calendar = strictly_parsed(feed)

    assert calendar.name == "VCALENDAR"
    assert str(calendar["VERSION"]) == "2.0" and str(calendar["PRODID"]) == "-//Carepath//Scheduling//EN"
    assert len(calendar.events) == 5
    for event in calendar.events:
        assert {"UID", "DTSTAMP", "DTSTART", "DTEND", "SEQUENCE", "STATUS", "SUMMARY"} <= set(event)
        assert event.decoded("DTEND") > event.decoded("DTSTART")
        assert event.decoded("DTSTAMP") == NOW  # when the session last changed (no METHOD)
    assert {str(e["STATUS"]) for e in calendar.events} == {"CONFIRMED", "CANCELLED"}


def test_feed_is_a_published_calendar_not_an_itip_message(feed: bytes) -> None:
    calendar = strictly_parsed(feed)

    assert "METHOD" not in calendar
    # RFC 5546 §3.2.1, should a METHOD ever come back: PUBLISH needs an ORGANIZER on each event.
    assert "METHOD" not in calendar or all("ORGANIZER" in event for event in calendar.events)


def test_feed_tells_subscribed_apps_how_often_to_fetch_it_again(feed: bytes) -> None:
    calendar = strictly_parsed(feed)

    refresh = calendar["REFRESH-INTERVAL"]
    assert refresh.params["VALUE"] == "DURATION" and calendar.decoded("REFRESH-INTERVAL") == timedelta(
        hours=1
    )
    assert b"X-PUBLISHED-TTL:PT1H\r\n" in feed


def test_only_a_video_session_carries_a_join_link(feed: bytes) -> None:
    events = {str(e["UID"]).split("@")[0]: e for e in strictly_parsed(feed).events}

    video = events["ses-video"]
    assert str(video["URL"]) == ROOM and str(video["LOCATION"]) == ROOM
    assert str(video["CONFERENCE"]) == ROOM and video["CONFERENCE"].params["FEATURE"] == "VIDEO"
    assert str(video["DESCRIPTION"]) == f"Join: {ROOM}"
    for uid, how in (("ses-phone", "By phone"), ("ses-person", "In person"), ("ses-chat", "By chat")):
        event = events[uid]
        assert not {"URL", "LOCATION", "CONFERENCE"} & set(event), uid
        assert str(event["DESCRIPTION"]) == how
    unfolded = feed.replace(b"\r\n ", b"")
    assert (
        unfolded.count(ROOM.encode()) == 2 * 4
    )  # the two video sessions: URL, LOCATION, CONFERENCE, DESCRIPTION


@pytest.mark.parametrize("session_format", list(SessionFormat))
def test_a_session_is_joined_by_its_room_only_when_it_is_a_video_session(
    session_format: SessionFormat,
) -> None:
    link = join_link(session("ses-1", session_format))

    assert link == (ROOM if session_format is SessionFormat.video else None)
