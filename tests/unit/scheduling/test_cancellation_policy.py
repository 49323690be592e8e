"""The cancellation policy: late cancels within 24 h, clinician cancels, attendance once started."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.scheduling.domain.cancellation import (
    CancelledBy,
    NotCancellable,
    SessionStatus,
    cancellation_status,
    check_attendance,
    check_cancellable,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_a_client_cancelling_more_than_24_hours_ahead_cancels_plainly() -> None:
    assert cancellation_status(CancelledBy.client, NOW + timedelta(hours=24), NOW) is SessionStatus.cancelled


def test_a_client_cancelling_within_24_hours_is_a_late_cancel() -> None:
    assert (
        cancellation_status(CancelledBy.client, NOW + timedelta(hours=23, minutes=59), NOW)
        is SessionStatus.late_cancelled
    )


def test_a_clinician_cancelling_is_never_the_clients_late_cancel() -> None:
    assert (
        cancellation_status(CancelledBy.clinician, NOW + timedelta(hours=1), NOW)
        is SessionStatus.clinician_cancelled
    )


def test_the_system_cancelling_late_is_a_plain_cancel() -> None:
    assert cancellation_status(CancelledBy.system, NOW + timedelta(hours=1), NOW) is SessionStatus.cancelled


def test_a_started_session_cannot_be_cancelled() -> None:
    with pytest.raises(NotCancellable) as refused:
        check_cancellable(SessionStatus.booked, NOW - timedelta(minutes=1), NOW)
    assert refused.value.code == "session_started"


def test_a_cancelled_session_cannot_be_cancelled_again() -> None:
    with pytest.raises(NotCancellable) as refused:
        check_cancellable(SessionStatus.late_cancelled, NOW + timedelta(days=2), NOW)
    assert refused.value.code == "session_not_booked"


def test_attendance_is_recorded_only_once_the_session_has_started() -> None:
    with pytest.raises(NotCancellable) as refused:
        check_attendance(SessionStatus.booked, NOW + timedelta(minutes=5), NOW)
    assert refused.value.code == "session_not_started"
    check_attendance(SessionStatus.booked, NOW, NOW)


def test_attendance_of_a_cancelled_session_cannot_be_recorded() -> None:
    with pytest.raises(NotCancellable) as refused:
        check_attendance(SessionStatus.cancelled, NOW - timedelta(hours=1), NOW)
    assert refused.value.code == "session_not_booked"
