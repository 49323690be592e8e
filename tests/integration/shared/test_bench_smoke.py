"""`make bench` cannot rot: every measurement runs at tiny sizes and counts every event.

Timings are never asserted (they depend on the machine and its load); only that each
measurement completes, handles exactly what it was given, and that the report and its
summary are written, profiles included.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench.harness import Bench
from tests.bench.suite import measure, parse, write
from tests.support.infrastructure import Infrastructure


@pytest.mark.timeout(600)
async def test_every_measurement_completes_and_counts_every_event(
    infrastructure: Infrastructure, tmp_path: Path
) -> None:
    options = parse(
        [
            "--events=12,24",
            "--documents=20,60",
            "--updates=5",
            "--timers=6",
            "--latency-events=3",
            "--latency-rate=20",
            "--profile=always",
            "--budget-seconds=90",
            "--only=bare,pipeline,relay,updates,latency,timers",  # matching: its own tests
            f"--output={tmp_path}",
        ]
    )
    bench = Bench(infrastructure)

    report = await measure(options, bench, infrastructure="test")
    summary = write(report, options)
    assert "FAILED" not in summary, summary  # names the measurement and its error

    results = report["results"]
    for section in ("bare_chain", "pipeline", "relay"):
        handled = {size: figures["handled"] for size, figures in results[section].items()}
        assert handled == {"12": 12, "24": 24}, (section, summary)
    updates = {size: figures["updates"] for size, figures in results["update_cost"]["by_size"].items()}
    assert updates == {"20": 5, "60": 5}
    assert all(f["mongo_round_trips_per_event"] > 0 for f in results["update_cost"]["by_size"].values())
    assert results["steady_latency"]["handled"] == 3
    assert results["timers"]["handled"] == 6
    assert {g["area"] for g in report["goals"]} == {"pipeline", "relay", "updates"}

    profiles = report["profiles"]
    for traced in ("pipeline_traced", "relay_traced"):
        assert profiles[traced]["handled"] == 12
        assert profiles[traced]["mongo_round_trips"]
        assert profiles[traced]["kafka_round_trips"]
    for profiled, path in (("pipeline_cprofile", "pipeline.prof"), ("relay_cprofile", "relay.prof")):
        assert profiles[profiled]["handled"] == 12
        assert profiles[profiled]["python_profile"]["self_time_by_package"]
        assert (tmp_path / "profiles" / path).is_file()
    assert {c: f["handled"] for c, f in profiles["pipeline_by_consumers_per_topic"].items()} == {
        "1": 12,
        "3": 12,
        "6": 12,
    }

    assert json.loads((tmp_path / "bench.json").read_text())["results"]["timers"]["handled"] == 6
    assert (tmp_path / "summary.txt").read_text() == summary
    assert "pipeline >= 0.7 x bare chain" in summary
