"""The domain clock: real time by default, a demo clock only when asked for explicitly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from shared.clock import (
    AcceleratedClock,
    ClockSettings,
    build_clock,
    domain_span,
    speed_of,
    utc_now,
)

EPOCH = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)


def test_without_settings_the_clock_is_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEMO_CLOCK_SPEED", raising=False)
    monkeypatch.delenv("DEMO_CLOCK_EPOCH", raising=False)
    clock = build_clock(ClockSettings())
    assert clock is utc_now
    assert speed_of(clock) == 1.0
    assert domain_span(clock, 30) == timedelta(seconds=30)


def test_accelerated_time_runs_speed_times_faster_from_the_epoch() -> None:
    clock = AcceleratedClock(EPOCH, 10_000.0, real=lambda: EPOCH + timedelta(seconds=8.64))
    assert clock() == EPOCH + timedelta(days=1)


def test_at_the_epoch_domain_time_is_real_time() -> None:
    assert AcceleratedClock(EPOCH, 500.0, real=lambda: EPOCH)() == EPOCH


def test_processes_with_the_same_epoch_and_speed_agree_on_the_time() -> None:
    real = EPOCH + timedelta(seconds=3.7)
    one = AcceleratedClock(EPOCH, 10_000.0, real=lambda: real)
    other = AcceleratedClock(EPOCH, 10_000.0, real=lambda: real)
    assert one() == other()


def test_settings_read_speed_and_epoch_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_CLOCK_SPEED", "10000")
    monkeypatch.setenv("DEMO_CLOCK_EPOCH", "2026-11-28T18:00:00+00:00")
    settings = ClockSettings()
    assert settings.speed == 10_000.0 and settings.epoch == EPOCH
    clock = build_clock(settings, real=lambda: EPOCH + timedelta(seconds=1))
    assert clock() == EPOCH + timedelta(seconds=10_000)
    assert speed_of(clock) == 10_000.0


def test_a_fast_clock_without_an_epoch_is_refused() -> None:
    with pytest.raises(ValidationError, match="DEMO_CLOCK_EPOCH"):
        ClockSettings(speed=100.0)


def test_an_epoch_without_utc_offset_is_refused() -> None:
    with pytest.raises(ValidationError, match="offset"):
        ClockSettings(speed=100.0, epoch=datetime(2026, 11, 28, 18, 0))


def test_slowing_time_down_is_refused() -> None:
    with pytest.raises(ValidationError):
        ClockSettings(speed=0.5, epoch=EPOCH)


@pytest.mark.parametrize(
    "real_now",
    [EPOCH + timedelta(hours=13), EPOCH - timedelta(minutes=5)],
    ids=["left-over epoch", "epoch in the future"],
)
def test_a_stale_or_future_epoch_stops_the_service_instead_of_moving_every_appointment(
    real_now: datetime,
) -> None:
    with pytest.raises(ValueError, match="DEMO_CLOCK_EPOCH"):
        build_clock(ClockSettings(speed=10_000.0, epoch=EPOCH), real=lambda: real_now)


def test_real_seconds_of_machinery_become_that_many_domain_seconds_times_the_speed() -> None:
    clock = AcceleratedClock(EPOCH, 10_000.0, real=lambda: EPOCH)
    assert domain_span(clock, 30) == timedelta(seconds=300_000)
