"""Process-wide lag gauges show the largest lag any live relay or timer worker reports."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from shared.observability.metrics import Largest


def shown(registry: CollectorRegistry) -> float:
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith("lag_seconds "):
            return float(line.split()[1])
    raise AssertionError("the gauge was not exposed")


class Reporter:
    """Stands for a relay or timer worker: any object a reporter can be keyed by."""


def test_one_reporters_nothing_late_does_not_hide_anothers_lag() -> None:
    registry = CollectorRegistry()
    lag = Largest(Gauge("lag_seconds", "test", registry=registry))
    quiet, late = Reporter(), Reporter()

    lag.set(late, 600.0)
    lag.set(quiet, 0.0)  # set last, as a session service's pass often is

    assert shown(registry) == 600.0


def test_a_reporter_that_stopped_or_is_gone_no_longer_counts() -> None:
    registry = CollectorRegistry()
    lag = Largest(Gauge("lag_seconds", "test", registry=registry))
    stopped, collected, live = Reporter(), Reporter(), Reporter()
    lag.set(stopped, 900.0)
    lag.set(collected, 700.0)
    lag.set(live, 5.0)

    lag.forget(stopped)
    del collected

    assert shown(registry) == 5.0
    lag.forget(live)
    assert shown(registry) == 0.0
