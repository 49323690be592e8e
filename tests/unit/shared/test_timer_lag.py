"""Timer lag: how late the oldest due, pending timer is, a failing one counted from its due time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from prometheus_client import REGISTRY

from shared.clock import AcceleratedClock
from shared.storage.timers import TimerStore, TimerWorker
from tests.support.fakes import ManualClock

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def store(clock: ManualClock) -> TimerStore:
    # Remembering and lateness are in memory: no collection or lease is touched.
    return TimerStore(cast(Any, None), cast(Any, None), lookahead=timedelta(minutes=2), clock=clock)


def test_nothing_due_is_no_lag_and_the_oldest_due_timer_sets_it() -> None:
    clock = ManualClock(NOW)
    timers = store(clock)
    timers.remember("later", NOW + timedelta(seconds=30))
    assert timers.lateness(NOW) == timedelta(0)

    timers.remember("a", NOW - timedelta(seconds=5))
    timers.remember("b", NOW - timedelta(seconds=40))

    assert timers.lateness(NOW) == timedelta(seconds=40)
    timers.forget("b")  # fired
    assert timers.lateness(NOW) == timedelta(seconds=5)


def test_a_timer_waiting_to_retry_stays_late_from_its_original_due_time() -> None:
    clock = ManualClock(NOW)
    timers = store(clock)
    due = NOW - timedelta(minutes=10)

    timers.remember("stuck", NOW + timedelta(seconds=60), overdue_since=due)  # as a failed firing does

    assert timers.lateness(NOW) == timedelta(minutes=10)
    assert timers.remembered_due(NOW) == []  # but it is not tried before its retry
    timers.remember("stuck", NOW + timedelta(minutes=1))  # moved to later by its owner: on time
    assert timers.lateness(NOW) == timedelta(0)


def test_the_worker_reports_lag_in_real_seconds_on_a_demo_clock() -> None:
    real = ManualClock(NOW)
    demo = AcceleratedClock(epoch=NOW, speed=60.0, real=real)  # a domain minute per real second
    timers = TimerStore(cast(Any, None), cast(Any, None), lookahead=timedelta(hours=2), clock=demo)
    worker = TimerWorker(timers, {}, owner="test", clock=demo)
    timers.remember("t", demo() - timedelta(minutes=30))  # half an hour late in domain time

    assert worker.report_lag() == 30.0
    assert REGISTRY.get_sample_value("carepath_timer_lag_seconds") == 30.0
