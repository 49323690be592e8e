"""Opt-outs per channel and kind, quiet hours in the recipient's zone (midnight, DST), critical bypass."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.notifications.domain.channels import Channel
from services.notifications.domain.messages import MessageKind
from services.notifications.domain.preferences import (
    Preferences,
    QuietHours,
    deliverable_channels,
    release_at,
)

NIGHT = QuietHours(start="22:00", end="07:00")
ALL: list[Channel] = ["email", "sms", "push", "in_app"]


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_channel_turned_off_is_not_used_for_any_kind() -> None:
    preferences = Preferences(channels={"sms": False})

    assert deliverable_channels(ALL, preferences, MessageKind.session_reminder, critical=False) == [
        "email",
        "push",
        "in_app",
    ]


def test_a_kind_can_be_turned_off_on_one_channel_only() -> None:
    preferences = Preferences(kinds={MessageKind.session_reminder: {"email": False}})

    assert "email" not in deliverable_channels(ALL, preferences, MessageKind.session_reminder, critical=False)
    assert "email" in deliverable_channels(ALL, preferences, MessageKind.session_booked, critical=False)


def test_critical_messages_use_every_channel_against_opt_outs() -> None:
    preferences = Preferences(channels=dict.fromkeys(ALL, False))

    assert deliverable_channels(ALL, preferences, MessageKind.risk_alert, critical=True) == ALL


def test_outside_quiet_hours_a_message_goes_now() -> None:
    now = utc(2026, 6, 10, 16, 0)  # 12:00 in New York

    assert release_at(now, NIGHT, "America/New_York") == now


def test_no_quiet_hours_means_now() -> None:
    now = utc(2026, 6, 10, 3, 0)

    assert release_at(now, None, "America/New_York") == now


def test_before_midnight_a_message_is_held_until_the_window_ends_the_next_morning() -> None:
    now = utc(2026, 6, 11, 3, 0)  # 23:00 EDT on the 10th

    assert release_at(now, NIGHT, "America/New_York") == utc(2026, 6, 11, 11, 0)  # 07:00 EDT


def test_after_midnight_a_message_is_held_until_the_same_morning() -> None:
    now = utc(2026, 6, 11, 6, 30)  # 02:30 EDT

    assert release_at(now, NIGHT, "America/New_York") == utc(2026, 6, 11, 11, 0)


def test_quiet_hours_follow_the_recipients_zone_not_utc() -> None:
    now = utc(2026, 6, 10, 23, 0)  # 19:00 in New York, 01:00 in Madrid

    assert release_at(now, NIGHT, "America/New_York") == now
    assert release_at(now, NIGHT, "Europe/Madrid") == utc(2026, 6, 11, 5, 0)  # 07:00 CEST


def test_a_daytime_window_holds_until_its_end() -> None:
    lunch = QuietHours(start="12:00", end="13:30")

    assert release_at(utc(2026, 1, 5, 12, 15), lunch, "UTC") == utc(2026, 1, 5, 13, 30)
    assert release_at(utc(2026, 1, 5, 13, 30), lunch, "UTC") == utc(2026, 1, 5, 13, 30)


def test_spring_forward_night_ends_at_seven_local_daylight_time() -> None:
    now = utc(2026, 3, 8, 4, 0)  # 23:00 EST on Saturday; clocks jump 02:00 → 03:00 that night

    assert release_at(now, NIGHT, "America/New_York") == utc(2026, 3, 8, 11, 0)  # 07:00 EDT, not 12:00


def test_fall_back_night_ends_at_seven_local_standard_time() -> None:
    now = utc(2026, 11, 1, 3, 0)  # 23:00 EDT on Saturday; clocks go back 02:00 → 01:00

    assert release_at(now, NIGHT, "America/New_York") == utc(2026, 11, 1, 12, 0)  # 07:00 EST


def test_a_window_ending_inside_the_spring_forward_gap_never_releases_inside_the_window() -> None:
    window = QuietHours(start="23:00", end="02:30")  # 02:30 does not exist on 8 March 2026
    now = utc(2026, 3, 8, 5, 0)  # 00:00 EST

    released = release_at(now, window, "America/New_York")

    assert released >= utc(2026, 3, 8, 7, 0)  # 03:00 EDT, the first instant past the gap
    assert not window.contains(released.astimezone(ZoneInfo("America/New_York")).time())


@pytest.mark.parametrize("start, end", [("22:00", "22:00"), ("25:00", "07:00"), ("7", "08:00")])
def test_impossible_quiet_hours_are_refused(start: str, end: str) -> None:
    with pytest.raises(ValidationError):
        QuietHours(start=start, end=end)


def test_unknown_kinds_and_channels_are_refused() -> None:
    with pytest.raises(ValidationError):
        Preferences.model_validate({"kinds": {"gossip": {"email": False}}})
    with pytest.raises(ValidationError):
        Preferences.model_validate({"channels": {"fax": True}})
