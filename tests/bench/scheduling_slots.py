"""Scheduling's slot maths: CPU per call of `Calendar.free_slots` and of the claim path's use of it.

In process, no I/O. A pool of synthetic therapists (weekly rules in one of a few zones, a
60-day horizon that crosses the US and EU clock changes, 20-40 booked sessions each, buffers,
sometimes a daily cap) and clients (3-5 weekly windows in their own zone), from a fixed
seed. Three measurements, each cycling through (therapist, client) pairs after one warm-up
pass, report mean, p50 and p95 microseconds per call:

- `free_slots, client windows`: every bookable slot over the horizon inside the client's
  windows (what the next-free-starts offer of a missed introduction asks);
- `free_slots, no client`: every bookable slot over the horizon (the availability listing);
- `claim path`: what `claim_fitting_slot` does before its first claim: build the `Calendar`
  from the availability and the booked sessions, then pick the slots it will try
  (`fitting_slots`, at most `Policy.claim_attempts`, earliest first).

    python -m tests.bench.scheduling_slots [--calls 2000] [--therapists 40] [--json path]

`run()` returns every figure as a dict, for `make bench` (section `slots`) to print and keep.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.scheduling.commands.claim_slot import fitting_slots
from services.scheduling.domain.availability import Availability, availability_from
from services.scheduling.domain.care import windows_from
from services.scheduling.domain.claims import padded
from services.scheduling.domain.policy import Policy
from services.scheduling.domain.slots import Booked, Calendar, ClientWindows, offered_slots

SEED = 20_260_302
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday; the horizon crosses 8 and 29 March
ZONES = ["America/Los_Angeles", "America/Chicago", "America/New_York", "Europe/London", "Europe/Berlin"]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ATTEMPTS = Policy().claim_attempts


@dataclass(frozen=True, slots=True)
class Case:
    """One therapist's calendar inputs and one client's windows, as the claim path gets them."""

    availability: Availability
    booked: tuple[Booked, ...]
    client: ClientWindows


def therapist(rng: random.Random) -> Availability:
    """Weekly rules on 4-6 days, a morning and an afternoon block, in one of `ZONES`."""
    weekly = []
    for day in sorted(rng.sample(DAYS[:6], rng.randint(4, 6)), key=DAYS.index):
        morning = rng.choice([8, 9, 10])
        weekly.append({"day": day, "start": f"{morning:02d}:00", "end": "12:00"})
        weekly.append({"day": day, "start": "13:00", "end": f"{rng.choice([17, 18, 19, 20]):02d}:00"})
    return availability_from(
        {
            "timezone": rng.choice(ZONES),
            "weekly": weekly,
            "session_minutes": 50,
            "buffer_after_minutes": rng.choice([0, 10, 10]),
            "slot_step_minutes": 30,
            "min_notice_hours": 24,
            "horizon_days": 60,
            "daily_cap": rng.choice([None, None, 6]),
        }
    )


def booked_sessions(rng: random.Random, availability: Availability) -> tuple[Booked, ...]:
    """20-40 sessions at offered slots over the horizon, none overlapping another's padded time."""
    offered = offered_slots(availability, NOW, NOW + timedelta(days=availability.horizon_days))
    chosen: list[Booked] = []
    for slot in rng.sample(offered, min(len(offered), 80)):
        if len(chosen) >= rng.randint(20, 40):
            break
        busy_from, busy_to = padded(
            slot.starts_at,
            slot.ends_at,
            availability.buffer_before_minutes,
            availability.buffer_after_minutes,
        )
        if all(busy_to <= b.busy_from or b.busy_to <= busy_from for b in chosen):
            chosen.append(Booked(f"s-{len(chosen)}", slot.starts_at, busy_from, busy_to))
    return tuple(chosen)


def client_windows(rng: random.Random) -> ClientWindows:
    """3-5 weekly windows of 2-4 hours, evenings or mornings, in the client's own zone."""
    windows = []
    for day in rng.sample(DAYS, rng.randint(3, 5)):
        start = rng.choice([7, 8, 12, 16, 17, 18])
        windows.append({"day": day, "start": f"{start:02d}:00", "end": f"{start + rng.randint(2, 4):02d}:00"})
    return ClientWindows(rng.choice(ZONES), windows_from(windows))


def cases(therapists: int, *, seed: int = SEED) -> list[Case]:
    rng = random.Random(seed)
    pool = []
    for _ in range(therapists):
        availability = therapist(rng)
        pool.append(Case(availability, booked_sessions(rng, availability), client_windows(rng)))
    return pool


def percentiles_us(samples: Sequence[int]) -> dict[str, float]:
    """Mean, p50 and p95 of samples in nanoseconds, as microseconds."""
    ordered = sorted(samples)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] / 1000, 1)

    return {"mean_us": round(statistics.fmean(ordered) / 1000, 1), "p50_us": at(0.50), "p95_us": at(0.95)}


def timed(pool: Sequence[Case], calls: int, call: Callable[[Case], int]) -> dict[str, Any]:
    """Time `call` over `calls` cases cycled from `pool`, after one untimed pass (warm caches)."""
    for case in pool:
        call(case)
    samples: list[int] = []
    found = 0
    cpu_started = time.thread_time_ns()
    for number in range(calls):
        case = pool[number % len(pool)]
        started = time.perf_counter_ns()
        found += call(case)
        samples.append(time.perf_counter_ns() - started)
    cpu_mean_us = round((time.thread_time_ns() - cpu_started) / calls / 1000, 1)
    return {
        "calls": calls,
        **percentiles_us(samples),
        "cpu_mean_us": cpu_mean_us,
        "mean_slots": round(found / calls, 1),
    }


async def run(*, calls: int = 2000, therapists: int = 40, seed: int = SEED) -> dict[str, Any]:
    """Every slot-maths figure, per call (CPU only: it holds the event loop while it runs)."""
    pool = cases(therapists, seed=seed)
    calendars = {id(case): Calendar(case.availability, case.booked, now=NOW) for case in pool}
    end_of = {id(case): calendars[id(case)].latest + timedelta(microseconds=1) for case in pool}

    def with_client(case: Case) -> int:
        return len(calendars[id(case)].free_slots(NOW, end_of[id(case)], case.client))

    def without_client(case: Case) -> int:
        return len(calendars[id(case)].free_slots(NOW, end_of[id(case)]))

    def claim_path(case: Case) -> int:
        calendar = Calendar(case.availability, case.booked, now=NOW)
        return len(fitting_slots(calendar, case.client, now=NOW, near=None, within=None, attempts=ATTEMPTS))

    return {
        "therapists": therapists,
        "mean_booked": round(statistics.fmean(len(case.booked) for case in pool), 1),
        "horizon_days": pool[0].availability.horizon_days,
        "claim_attempts": ATTEMPTS,
        "free_slots_client": timed(pool, calls, with_client),
        "free_slots_all": timed(pool, calls, without_client),
        "claim_path": timed(pool, calls, claim_path),
    }


LABELS = {
    "free_slots_client": "free_slots, client windows",
    "free_slots_all": "free_slots, no client",
    "claim_path": f"claim path: Calendar + first {ATTEMPTS}",
}


def summary(results: dict[str, Any]) -> str:
    lines = [
        f"scheduling slot maths (in process, per call; {results['therapists']} therapists, "
        f"{results['mean_booked']} booked each on average, {results['horizon_days']}-day horizon)",
        f"  {'call':<32} {'mean us':>9} {'p50 us':>9} {'p95 us':>9} {'cpu us':>9} {'slots':>7}",
    ]
    for key, label in LABELS.items():
        row = results[key]
        lines.append(
            f"  {label:<32} {row['mean_us']:>9} {row['p50_us']:>9} {row['p95_us']:>9}"
            f" {row['cpu_mean_us']:>9} {row['mean_slots']:>7}"
        )
    lines.append("  (wall-clock per call; cpu us: the thread's CPU time per call, mean)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--therapists", type=int, default=40)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = asyncio.run(run(calls=args.calls, therapists=args.therapists))
    print(summary(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
