"""Reminders 24 h and 1 h before a session, never in the past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notifications.domain.reminders import moved_reminder_timer_id, reminder_timer_id, reminder_times

STARTS = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def test_a_session_days_ahead_gets_reminders_24_hours_and_1_hour_before() -> None:
    assert reminder_times(STARTS, STARTS - timedelta(days=5)) == {
        "24h": datetime(2026, 3, 9, 15, 0, tzinfo=UTC),
        "1h": datetime(2026, 3, 10, 14, 0, tzinfo=UTC),
    }


def test_a_session_booked_a_few_hours_ahead_gets_only_the_1_hour_reminder() -> None:
    assert list(reminder_times(STARTS, STARTS - timedelta(hours=3))) == ["1h"]


def test_a_session_starting_within_the_hour_gets_no_reminder() -> None:
    assert reminder_times(STARTS, STARTS - timedelta(minutes=30)) == {}


def test_reminder_timers_are_keyed_by_session_and_lead() -> None:
    assert reminder_timer_id("session-1", "24h") == "reminder:session-1:24h"
    assert moved_reminder_timer_id("session-1", "1h", STARTS) == "reminder:session-1:1h:20260310T150000Z"
