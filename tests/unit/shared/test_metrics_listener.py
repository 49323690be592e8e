"""Prometheus metrics on a port of their own: which port, and the listener serving the registry."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from shared.http.metrics_listener import MetricsListener, MetricsSettings
from tests.support.probe_service import ProbeSettings


def test_the_metrics_port_defaults_to_the_http_port_plus_1000_on_the_http_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROBE_HTTP_PORT", "8003")
    monkeypatch.setenv("PROBE_HTTP_HOST", "127.0.0.1")
    settings = ProbeSettings()
    assert MetricsSettings.of_service(settings).address(settings) == ("127.0.0.1", 9003)


def test_the_metrics_port_and_host_are_set_under_the_service_prefix_and_0_serves_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = ProbeSettings()
    monkeypatch.setenv("PROBE_METRICS_PORT", "9464")
    monkeypatch.setenv("PROBE_METRICS_HOST", "10.0.0.5")
    assert MetricsSettings.of_service(settings).address(settings) == ("10.0.0.5", 9464)
    monkeypatch.setenv("PROBE_METRICS_PORT", "0")
    assert MetricsSettings.of_service(settings).address(settings) is None


def test_an_http_port_too_high_for_the_default_asks_for_the_metrics_port() -> None:
    settings = ProbeSettings(http_port=65000)
    with pytest.raises(ValueError, match="PROBE_METRICS_PORT"):
        MetricsSettings().address(settings)


def test_the_listener_serves_the_registry_in_prometheus_text() -> None:
    registry = CollectorRegistry()
    Counter("carepath_probe_things_total", "Things.", registry=registry).inc(3)
    listener = MetricsListener.start("127.0.0.1", 0, registry=registry)
    try:
        answer = httpx.get(f"http://127.0.0.1:{listener.port}/metrics", timeout=5)
    finally:
        listener.close()
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert "carepath_probe_things_total 3.0" in answer.text


def test_a_taken_port_is_refused_at_start() -> None:
    first = MetricsListener.start("127.0.0.1", 0, registry=CollectorRegistry())
    try:
        with pytest.raises(OSError):
            MetricsListener.start("127.0.0.1", first.port, registry=CollectorRegistry())
    finally:
        first.close()
