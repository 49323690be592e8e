"""The timers of care: when the series is topped up and when a check-in falls due.

Each timer's id names its client and due time, so scheduling it again is a no-op, and
the care record names the one timer of each kind that is current: a timer that fires
after the record moved on (rescheduled, paused, stopped) finds itself superseded and
publishes nothing. That is what makes a check-in exactly once in effect per due date,
whatever replicas, restarts and plan changes do meanwhile.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.scheduling.domain.care import CheckIns, CheckInStatus, Series, SeriesStatus
from shared.events.envelope import deterministic_event_id


def _stamp(due: datetime) -> str:
    return f"{due.astimezone(UTC):%Y%m%dT%H%M%S}.{due.microsecond // 1000:03d}Z"


def series_timer_id(client_id: str, due: datetime) -> str:
    return f"series:{client_id}:{_stamp(due)}"


def check_in_timer_id(client_id: str, due: datetime) -> str:
    return f"check-in:{client_id}:{_stamp(due)}"


def check_in_id(client_id: str, due: datetime) -> str:
    """The check-in's id, the same whichever replica fires it and however often."""
    return "ci_" + deterministic_event_id("check-in", client_id, _stamp(due)).replace("-", "")


# ---------------------------------------------------------------------- series


def series_due(series: Series, client_id: str, due: datetime) -> Series:
    """The series with its one current timer due at `due`."""
    return replace(series, timer_id=series_timer_id(client_id, due), timer_due=due)


def series_idle(series: Series, status: SeriesStatus) -> Series:
    return replace(series, status=status, timer_id=None, timer_due=None)


# ---------------------------------------------------------------------- check-ins


def start_check_ins(client_id: str, since: datetime, interval_days: int) -> CheckIns:
    """Every `interval_days` from `since` (when the plan that starts them was written)."""
    due = since + timedelta(days=interval_days)
    return CheckIns(CheckInStatus.active, interval_days, since, due, check_in_timer_id(client_id, due))


def _due(check_ins: CheckIns, client_id: str, now: datetime) -> CheckIns:
    """Active, due one interval after the last (or now, when that moment has passed)."""
    due = max(check_ins.base + timedelta(days=check_ins.interval_days), now)
    if check_ins.active and check_ins.due_at == due:
        return check_ins
    return replace(
        check_ins, status=CheckInStatus.active, due_at=due, timer_id=check_in_timer_id(client_id, due)
    )


def with_interval(check_ins: CheckIns, client_id: str, interval_days: int, now: datetime) -> CheckIns:
    """A new interval moves the pending check-in (paused and stopped ones stay so)."""
    changed = replace(check_ins, interval_days=interval_days)
    return _due(changed, client_id, now) if check_ins.active else changed


def paused_check_ins(check_ins: CheckIns) -> CheckIns:
    return replace(check_ins, status=CheckInStatus.paused, due_at=None, timer_id=None)


def stopped_check_ins(check_ins: CheckIns) -> CheckIns:
    return replace(check_ins, status=CheckInStatus.stopped, due_at=None, timer_id=None)


def resumed_check_ins(check_ins: CheckIns, client_id: str, now: datetime) -> CheckIns:
    if check_ins.status is not CheckInStatus.paused:
        return check_ins
    return _due(replace(check_ins, status=CheckInStatus.active), client_id, now)


def fired_check_in(check_ins: CheckIns, client_id: str, timer_id: str, due_at: datetime) -> CheckIns | None:
    """The record after timer `timer_id` fired, or None when that timer is not the current one."""
    if not check_ins.active or check_ins.timer_id != timer_id:
        return None
    following = due_at + timedelta(days=check_ins.interval_days)
    return replace(
        check_ins,
        base=due_at,
        due_at=following,
        timer_id=check_in_timer_id(client_id, following),
        fired=(*check_ins.fired, timer_id)[-20:],
    )
