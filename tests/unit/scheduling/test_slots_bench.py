"""The slot-maths bench section runs and reports every call it times (never its timings' values)."""

from __future__ import annotations

from tests.bench import scheduling_slots


async def test_the_slots_bench_times_free_slots_and_the_claim_path_and_summarises_them() -> None:
    results = await scheduling_slots.run(calls=6, therapists=3)

    for key in scheduling_slots.LABELS:
        assert results[key]["calls"] == 6
        assert {"mean_us", "p50_us", "p95_us", "cpu_mean_us", "mean_slots"} <= set(results[key])
    assert results["claim_path"]["mean_slots"] <= scheduling_slots.ATTEMPTS
    assert all(label in scheduling_slots.summary(results) for label in scheduling_slots.LABELS.values())
