"""`make bench` (`python -m tests.bench`): throughput, cost and latency of the shared plumbing.

One run measures, each on a fresh topic prefix and database (dropped afterwards):

1. bare chain: aiokafka producer (acks=all, idempotent) -> 6 partitions -> one aiokafka
   consumer -> one `insert_one` per event; no envelope, outbox or inbox. The floor.
2. consume pipeline: pre-published CloudEvents consumed by a `ServiceRuntime`
   subscription whose handler makes one `DocumentStore.upsert(..., cause=envelope)`.
3. relay: documents inserted with one outbox event each through a `DocumentStore`,
   published from the runtime's start until all are on the topic and every outbox is empty.
4. per-update cost: `DocumentStore.update` by `_id` in collections of 1k, 10k, 50k documents.
5. write-to-handled latency at a steady 5 events/s, and durable timers fired per second.
6. matching: ranking latency by directory size, intake-completed to match-proposed.
7. journey: the four services as processes; submitted intake to `session-booked` at a
   steady 10, 20 and 30 intakes/s for a minute each, with its stages (tests/bench/journey.py);
   with `--journey-history N`, timed again once N completed journeys are stored
   (tests/bench/history.py).
8. slots: CPU per call of scheduling's slot maths, in process (tests/bench/scheduling_slots.py).
9. hot: 20 concurrent writers of 3 documents (and of 50) in one process: time, CPU and round
   trips per write, where a document's concurrent changes fold into one write
   (tests/bench/hot_documents.py).

Goals (pass/miss is printed beside each): pipeline >= 0.7 x bare chain; per-update cost
within 1.5 x from the smallest to the largest collection; relay and pipeline throughput
not falling from the smallest to the largest run (>= 0.9 x, for noise); journey at 10
intakes/s all booked with p99 <= 1 s and <= 100 ms CPU per intake, a best booked rate over
the rates of >= 20/s (and p99 <= 1 s at 50/s when run); with history, CPU and MongoDB round trips per intake
within 1.2 x of the empty system's. When a goal is
missed the pipeline and relay are run again traced (MongoDB and Kafka round trips per
event) and under cProfile, and a pipeline sweep over `consumers_per_topic` is added.

    python -m tests.bench [--quick] [--events 2000,20000] [--documents 1000,10000,50000]
        [--updates 300] [--timers 500] [--latency-events 100] [--profile auto|always|never]
        [--journey-rates 10,20,30] [--journey-seconds 60] [--journey-trace] [--journey-history 50000]
        [--only bare,pipeline,relay,updates,latency,timers,matching,journey,slots,hot]

Every option has a `BENCH_*` environment twin (e.g. `BENCH_EVENTS=500,5000`). Results:
`bench-results/bench.json` (every figure), `bench-results/summary.txt` (the table printed),
`bench-results/profiles/*.prof|.txt` (cProfile, when profiling ran).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.observability.logs import configure_logging
from tests.bench import hot_documents, journey, matching_ranking, measurements, scheduling_slots
from tests.bench.harness import Bench, CpuMeter, find_processes, goal
from tests.bench.measurements import Window

REPO = Path(__file__).resolve().parents[2]
SECTIONS = (
    "bare",
    "pipeline",
    "relay",
    "updates",
    "latency",
    "timers",
    "matching",
    "journey",
    "slots",
    "hot",
)

PIPELINE_VS_BARE = 0.7
UPDATE_FLATNESS = 1.5
NOT_FALLING = 0.9
SWEEP = (1, 3, 6)
PROFILE_EVENTS = 1000
TIMER_BUDGET = 60.0

QUICK = {
    "events": "200,1000",
    "documents": "500,2000,5000",
    "updates": "100",
    "timers": "100",
    "latency_events": "15",
    "journey_rates": "10,20",
    "journey_seconds": "10",
}
DEFAULTS = {
    "events": "2000,20000",
    "documents": "1000,10000,50000",
    "updates": "300",
    "timers": "500",
    "latency_events": "100",
    "journey_rates": "10,20,30",
    "journey_seconds": "60",
}


def sizes(text: str) -> list[int]:
    values = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"not a list of positive sizes: {text!r}")
    return values


@dataclass
class Options:
    events: list[int]
    documents: list[int]
    updates: int
    timers: int
    latency_events: int
    latency_rate: float
    journey_rates: list[float]
    journey_seconds: float
    journey_drain_seconds: float
    journey_trace: bool
    journey_history: int
    journey_profile: bool
    journey_settings: dict[str, str]
    profile: str
    profile_events: int
    budget_seconds: float
    only: list[str]
    output: Path


def parse(argv: Sequence[str]) -> Options:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of a minute or two")
    parser.add_argument(
        "--events", help=f"event counts for bare chain, pipeline, relay ({DEFAULTS['events']})"
    )
    parser.add_argument("--documents", help=f"collection sizes for the update cost ({DEFAULTS['documents']})")
    parser.add_argument("--updates", help="measured updates per collection size (300)")
    parser.add_argument("--timers", help="due timers to fire (500)")
    parser.add_argument("--latency-events", help="events at the steady rate (100)")
    parser.add_argument("--latency-rate", type=float, default=float(env("BENCH_LATENCY_RATE", "5")))
    parser.add_argument("--journey-rates", help="intakes per second, each rate in turn (10,20,30)")
    parser.add_argument("--journey-seconds", help="seconds of sending at each rate (60; --quick 10)")
    parser.add_argument(
        "--journey-drain-seconds",
        type=float,
        default=float(env("BENCH_JOURNEY_DRAIN_SECONDS", "120")),
        help="how long after the last submit an unbooked intake still counts as late, not lost",
    )
    parser.add_argument(
        "--journey-set",
        action="append",
        default=[s for s in env("BENCH_JOURNEY_SET", "").split(",") if s],
        metavar="NAME=VALUE",
        help="a service setting for the journey, as its environment (e.g. MATCHING_CONSUMERS_PER_TOPIC=2)",
    )
    parser.add_argument(
        "--journey-trace",
        action="store_true",
        default=bool(env("BENCH_JOURNEY_TRACE")),
        help="count each service's MongoDB round trips during the journey",
    )
    parser.add_argument(
        "--journey-profile",
        action="store_true",
        default=bool(env("BENCH_JOURNEY_PROFILE")),
        help="run each service under cProfile (CPU time) over the rates: where its CPU went",
    )
    parser.add_argument(
        "--journey-history",
        type=int,
        default=int(env("BENCH_JOURNEY_HISTORY", "0")),
        metavar="N",
        help="then store N completed journeys and time the rates again, compared per intake "
        "(0 = off; implies --journey-trace)",
    )
    parser.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default=env("BENCH_PROFILE", "auto"),
        help="profile the pipeline and relay: when a goal is missed (auto), always, or never",
    )
    parser.add_argument(
        "--profile-events",
        type=int,
        default=int(env("BENCH_PROFILE_EVENTS", "0")) or None,
        help=f"events per profiling run (the smallest --events, at most {PROFILE_EVENTS})",
    )
    parser.add_argument(
        "--budget-seconds",
        type=float,
        default=float(env("BENCH_BUDGET_SECONDS", str(measurements.DEFAULT_BUDGET))),
        help="longest a throughput run may take; past it the rate is of what was done by then",
    )
    parser.add_argument("--only", default=env("BENCH_ONLY", ",".join(SECTIONS)))
    parser.add_argument("--output", type=Path, default=Path(env("BENCH_OUTPUT", str(REPO / "bench-results"))))
    args = parser.parse_args(argv)
    base = QUICK if args.quick else DEFAULTS

    def pick(name: str) -> str:
        return str(getattr(args, name) or env(f"BENCH_{name.upper()}") or base[name])

    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    events = sizes(pick("events"))
    return Options(
        events=events,
        documents=sizes(pick("documents")),
        updates=int(pick("updates")),
        timers=int(pick("timers")),
        latency_events=int(pick("latency_events")),
        latency_rate=args.latency_rate,
        journey_rates=[float(r) for r in pick("journey_rates").split(",") if r.strip()],
        journey_seconds=float(pick("journey_seconds")),
        journey_drain_seconds=args.journey_drain_seconds,
        journey_trace=args.journey_trace,
        journey_history=args.journey_history,
        journey_profile=args.journey_profile,
        journey_settings=dict(item.split("=", 1) for item in args.journey_set),
        profile=args.profile,
        profile_events=args.profile_events or min(events[0], PROFILE_EVENTS),
        budget_seconds=args.budget_seconds,
        only=only,
        output=args.output,
    )


# ---------------------------------------------------------------------------------- run


def progress(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def run(options: Options, bench: Bench, cpu: CpuMeter) -> dict[str, Any]:
    results: dict[str, Any] = {}
    only = options.only
    budget = options.budget_seconds

    async def step(label: str, make: Callable[[], Any]) -> Any:
        progress(f"{label} ...")
        started = time.perf_counter()
        try:
            result = await make()
        except Exception as exc:  # one failed measurement must not lose the others
            progress(f"{label}: FAILED after {time.perf_counter() - started:.0f} s: {exc!r}")
            return {"error": f"{type(exc).__name__}: {exc}", "completed": False}
        unfinished = "" if result.get("completed", True) else " (stopped at its time budget)"
        progress(f"{label}: done in {time.perf_counter() - started:.0f} s{unfinished}")
        return result

    def each_size(label: str, make: Callable[[int], Any]) -> Any:
        async def sizes() -> dict[str, Any]:
            return {str(n): await step(f"{label}, {n} events", lambda n=n: make(n)) for n in options.events}

        return sizes()

    if "bare" in only:
        results["bare_chain"] = await each_size(
            "bare chain", lambda n: measurements.bare_chain(bench, n, window=Window(cpu))
        )
    if "pipeline" in only:
        results["pipeline"] = await each_size(
            "pipeline",
            lambda n: measurements.consume_pipeline(bench, n, budget_seconds=budget, window=Window(cpu)),
        )
    if "relay" in only:
        results["relay"] = await each_size(
            "relay", lambda n: measurements.relay(bench, n, budget_seconds=budget, window=Window(cpu))
        )
    if "updates" in only:
        results["update_cost"] = await step(
            f"per-update cost at {options.documents} documents",
            lambda: measurements.update_cost(bench, options.documents, updates=options.updates, cpu=cpu),
        )
    if "latency" in only:
        results["steady_latency"] = await step(
            f"latency at {options.latency_rate:g} events/s",
            lambda: measurements.steady_latency(
                bench, options.latency_events, per_second=options.latency_rate
            ),
        )
    if "timers" in only:
        results["timers"] = await step(
            f"{options.timers} timers",
            lambda: measurements.timers_fired(
                bench, options.timers, budget_seconds=min(budget, TIMER_BUDGET), cpu=cpu
            ),
        )

    if "matching" in only:
        results["matching"] = await step(
            "matching: ranking at 1k/10k/100k therapists, intake-completed to match-proposed",
            lambda: matching_ranking.run(
                kafka_bootstrap_servers=bench.kafka_bootstrap_servers, mongodb_uri=bench.mongodb_uri
            ),
        )

    if "slots" in only:
        results["slots"] = await step("slots: free_slots and the claim path, per call", scheduling_slots.run)

    if "hot" in only:
        results["hot"] = await step(
            "hot documents: concurrent writers of 3 and of 50 documents", lambda: hot_documents.run(bench)
        )

    if "journey" in only:
        results["journey"] = await step(
            f"journey: intake submitted to session-booked at {options.journey_rates} intakes/s, "
            f"{options.journey_seconds:g} s each"
            + (f", then with {options.journey_history:,} journeys stored" if options.journey_history else ""),
            lambda: journey.run(
                infra=bench.infrastructure,
                rates=options.journey_rates,
                seconds=options.journey_seconds,
                drain_seconds=options.journey_drain_seconds,
                trace=options.journey_trace,
                history=options.journey_history,
                profile=options.journey_profile,
                settings=options.journey_settings,
                logs=options.output / "journey-logs",
                progress=progress,
            ),
        )

    goals = evaluate(results, options)
    missed = {g["area"] for g in goals if g["result"] == "miss"}
    wanted = (
        {"pipeline", "relay"} & set(only)
        if options.profile == "always"
        else ({"pipeline", "relay"} & missed if options.profile == "auto" else set())
    )
    profiles: dict[str, Any] = {}
    folder = options.output / "profiles"
    n = options.profile_events
    if "pipeline" in wanted:
        profiles["pipeline_traced"] = await step(
            f"pipeline traced, {n} events",
            lambda: measurements.consume_pipeline(
                bench, n, budget_seconds=budget, window=Window(cpu, trace=True)
            ),
        )
        profiles["pipeline_cprofile"] = await step(
            f"pipeline under cProfile, {n} events",
            lambda: measurements.consume_pipeline(
                bench, n, budget_seconds=budget, window=Window(cpu, profile=folder / "pipeline.prof")
            ),
        )
        profiles["pipeline_by_consumers_per_topic"] = {
            str(c): await step(
                f"pipeline, consumers_per_topic={c}, {n} events",
                lambda c=c: measurements.consume_pipeline(
                    bench, n, consumers_per_topic=c, budget_seconds=budget, window=Window(cpu)
                ),
            )
            for c in SWEEP
        }
    if "relay" in wanted:
        profiles["relay_traced"] = await step(
            f"relay traced, {n} events",
            lambda: measurements.relay(bench, n, budget_seconds=budget, window=Window(cpu, trace=True)),
        )
        profiles["relay_cprofile"] = await step(
            f"relay under cProfile, {n} events",
            lambda: measurements.relay(
                bench, n, budget_seconds=budget, window=Window(cpu, profile=folder / "relay.prof")
            ),
        )
        profiles["relay_live_traced"] = await step(
            f"relay with live inserts, traced, {n} events",
            lambda: measurements.relay(
                bench, n, live=True, budget_seconds=budget, window=Window(cpu, trace=True)
            ),
        )
    return {"results": results, "goals": goals, "profiles": profiles}


# -------------------------------------------------------------------------------- goals


def measured(figures: Any) -> bool:
    """A measurement that ran (it may have stopped at its budget), not one that failed."""
    return isinstance(figures, dict) and "error" not in figures


def evaluate(results: dict[str, Any], options: Options) -> list[dict[str, Any]]:
    goals: list[dict[str, Any]] = []

    def figure(section: str, size: str, key: str) -> float | None:
        figures = results.get(section, {})
        found = figures.get(size) if measured(figures) else None
        return found[key] if measured(found) else None

    def ratio(high: float | None, low: float | None) -> float | None:
        if high is None or low is None:
            return None
        return high / low if low > 0 else 0.0

    for size in map(str, options.events):
        measured_ratio = ratio(
            figure("pipeline", size, "events_per_second"), figure("bare_chain", size, "events_per_second")
        )
        if measured_ratio is not None:
            goals.append(
                goal(
                    "pipeline",
                    f"pipeline >= {PIPELINE_VS_BARE} x bare chain at {int(size):,} events",
                    round(measured_ratio, 2),
                    measured_ratio >= PIPELINE_VS_BARE,
                )
            )
    low, high = str(options.events[0]), str(options.events[-1])
    if low != high:
        for area, section in (("pipeline", "pipeline"), ("relay", "relay")):
            measured_ratio = ratio(
                figure(section, high, "events_per_second"), figure(section, low, "events_per_second")
            )
            if measured_ratio is not None:
                goals.append(
                    goal(
                        area,
                        f"{area} not falling {int(low):,} -> {int(high):,} events (>= {NOT_FALLING} x)",
                        round(measured_ratio, 2),
                        measured_ratio >= NOT_FALLING,
                    )
                )
    small, large = str(options.documents[0]), str(options.documents[-1])
    by_size = results.get("update_cost", {}).get("by_size", {})
    measured_ratio = ratio(by_size.get(large, {}).get("mean_ms"), by_size.get(small, {}).get("mean_ms"))
    if measured_ratio is not None and small != large:
        goals.append(
            goal(
                "updates",
                f"update cost flat {int(small):,} -> {int(large):,} documents (<= {UPDATE_FLATNESS} x)",
                round(measured_ratio, 2),
                measured_ratio <= UPDATE_FLATNESS,
            )
        )
    if (run := results.get("journey")) and measured(run):
        goals.extend(run.get("goals", []))
        if history_goal := run.get("history", {}).get("goal"):
            goals.append(history_goal)
    return goals


# ------------------------------------------------------------------------------ summary


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> list[str]:
    cells = [[str(c) for c in header], *[[fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )

    return [line(cells[0]), "  ".join("-" * w for w in widths), *(line(r) for r in cells[1:])]


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def cores(result: dict[str, Any]) -> str:
    usage = result.get("cpu", {}).get("cores", {})
    return " / ".join(
        f"{usage[k]:.2f}" if k in usage else "-" for k in ("python", "kafka", "mongodb", "other")
    )


def summarise(report: dict[str, Any], options: Options) -> str:
    results, goals, profiles = report["results"], report["goals"], report["profiles"]
    out = [
        f"Carepath bench, {report['measured_at']}: {report['machine']}; "
        f"infrastructure: {report['infrastructure']}; load average before {report['load_average_before']}, "
        f"after {report['load_average_after']}",
        f"code: commit {report['code']['commit']}"
        + (
            f", with uncommitted changes to {', '.join(changed)}"
            if (changed := report["code"]["shared_changed_since_commit"])
            else ""
        ),
        "",
    ]
    bare = results.get("bare_chain", {})
    rows: list[tuple[Any, ...]] = []
    unfinished = False
    failures: list[str] = []
    for section, label in (
        ("bare_chain", "bare chain: consume + insert_one"),
        ("pipeline", "pipeline: subscription + store.upsert"),
        ("relay", "relay: start -> all on the topic"),
    ):
        for size, figures in results.get(section, {}).items():
            if not measured(figures):
                failures.append(f"{label}, {int(size):,} events: {figures['error']}")
                continue
            base = bare.get(size, {}).get("events_per_second")
            ratio = figures["events_per_second"] / base if base else None
            done = f"{figures['handled']:,}" + ("" if figures.get("completed", True) else " *")
            unfinished |= not figures.get("completed", True)
            rows.append(
                (
                    label,
                    int(size),
                    done,
                    figures["seconds"],
                    figures["events_per_second"],
                    ratio,
                    cores(figures),
                )
            )
        if section == "bare_chain":
            for size, figures in results.get(section, {}).items():
                if not measured(figures):
                    continue
                rows.append(
                    (
                        "bare chain: publish (acks=all)",
                        int(size),
                        f"{int(size):,}",
                        figures["produce_seconds"],
                        figures["produce_events_per_second"],
                        None,
                        "",
                    )
                )
    if rows:
        out += table(
            rows,
            ("throughput", "events", "done", "seconds", "events/s", "x bare", "cores py/kafka/db/other"),
        )
        if unfinished:
            out.append(
                f"  * stopped at the budget of {options.budget_seconds:g} s: "
                "the rate is of what was done by then"
            )
        out.append("  cores: average CPU cores used during the window by the bench's Python process, the")
        out.append("  Kafka broker, the MongoDB-wire server, and everything else on the machine")
        out.append("")
    updates = results.get("update_cost")
    if updates and not measured(updates):
        failures.append(f"per-update cost: {updates['error']}")
    elif updates:

        def mean_of(f: dict[str, Any], call: str) -> float | None:
            found = [t["mean_ms"] for t in f["document_round_trips"] if t["call"] == call]
            return found[0] if found else None

        rows = [
            (
                int(size),
                f["mean_ms"],
                f["p50_ms"],
                f["p95_ms"],
                mean_of(f, "find"),
                mean_of(f, "update"),
                f["mongo_round_trips_per_event"],
                f["relay_candidate_query_ms"],
            )
            for size, f in updates["by_size"].items()
        ]
        out.append("DocumentStore.update by _id (sizes interleaved, one update each in turn)")
        out += table(
            rows,
            (
                "documents",
                "mean ms",
                "p50 ms",
                "p95 ms",
                "find ms",
                "replace ms",
                "round trips",
                "relay sweep query ms",
            ),
        )
        out.append(
            "  lease round trips: "
            + ", ".join(
                f"{r['call']} {r['target']} {r['mean_ms']:.2f} ms"
                for r in updates["lease_and_other_round_trips"]
                if r["count"] >= len(rows)
            )
            + f"; cores py/kafka/db/other {cores(updates)}"
        )
        out.append("")
    for name in ("steady_latency", "timers"):
        if name in results and not measured(results[name]):
            failures.append(f"{name.replace('_', ' ')}: {results[name]['error']}")
    if (latency := results.get("steady_latency")) and measured(latency):
        lat = latency["latency"]
        out.append(
            f"write-to-handled latency at {latency['offered_per_second']:g} events/s "
            f"({latency['events']} events): "
            f"p50 {lat['p50_ms']:.0f} ms, p95 {lat['p95_ms']:.0f} ms, max {lat['max_ms']:.0f} ms"
        )
    if (timers := results.get("timers")) and measured(timers):
        out.append(
            f"durable timers: {timers['handled']} of {timers['timers']} fired in {timers['seconds']:.1f} s = "
            f"{timers['timers_per_second']:.1f} timers/s (cores py/kafka/db/other {cores(timers)})"
        )
        if timers.get("mongo_round_trips"):
            out.append(
                f"  per timer: {timers['mongo_round_trips_per_event']} MongoDB round trips; "
                + ", ".join(
                    f"{r['call']} {r['target']} x{r['per_event']} {r['mean_ms']:.1f} ms"
                    for r in timers["mongo_round_trips"][:5]
                )
            )
    if (slots := results.get("slots")) and not measured(slots):
        failures.append(f"slots: {slots['error']}")
    elif slots:
        out += ["", scheduling_slots.summary(slots)]
    if (hot := results.get("hot")) and not measured(hot):
        failures.append(f"hot: {hot['error']}")
    elif hot:
        out += ["", hot_documents.summary(hot)]
    if (run := results.get("journey")) and not measured(run):
        failures.append(f"journey: {run['error']}")
    elif run:
        out += ["", journey.summary(run)]
    if goals:
        out += [
            "",
            *table(
                [(g["goal"], g["measured"], g["result"].upper()) for g in goals],
                ("goal", "measured", "result"),
            ),
        ]
    if profiles:
        out += ["", *profile_summary(profiles)]
    failures += [f"{name}: {figures['error']}" for name, figures in profiles.items() if not measured(figures)]
    if failures:
        out += ["", "FAILED measurements:", *(f"  {failure}" for failure in failures)]
    return "\n".join(out) + "\n"


def profile_summary(profiles: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for name in ("pipeline_traced", "relay_traced", "relay_live_traced"):
        if not measured(profiles.get(name)):
            continue
        figures = profiles[name]
        out.append(
            f"{name.removesuffix('_traced').replace('_', ' ')}, traced ({figures['events']} events, "
            f"{figures['events_per_second']} events/s, "
            f"{figures['mongo_round_trips_per_event']} MongoDB round trips per event; "
            f"CPU ms per event py/kafka/db: "
            + " / ".join(
                str(figures.get("cpu", {}).get("cpu_ms_per_event", {}).get(k, "-"))
                for k in ("python", "kafka", "mongodb")
            )
            + ")"
        )
        rows = [
            (f"{r['call']} {r['target']}".strip(), r.get("per_event"), r["mean_ms"], r["p50_ms"], r["p95_ms"])
            for r in [*figures.get("mongo_round_trips", []), *figures.get("kafka_round_trips", [])]
            if (r.get("per_event") or 0) >= 0.01
        ]
        out += [
            "  " + line for line in table(rows, ("round trip", "per event", "mean ms", "p50 ms", "p95 ms"))
        ]
        out.append("")
    for name in ("pipeline_cprofile", "relay_cprofile"):
        if not measured(profiles.get(name)) or "python_profile" not in profiles[name]:
            continue
        profile = profiles[name]["python_profile"]
        figures = profiles[name]
        out.append(
            f"{name.split('_')[0]} under cProfile ({figures['events']} events, "
            f"{figures['events_per_second']} events/s profiled; {profile['file']}): "
            "the event loop's time by owner of the code"
        )
        rows = [
            (r["package"], r["share"], r.get("us_per_event")) for r in profile["self_time_by_package"][:10]
        ]
        out += ["  " + line for line in table(rows, ("owner", "share", "us/event"))]
        out.append("  top shared/ functions by cumulative time (CPU while running, not awaiting)")
        rows = [
            (r["function"][-80:], r["calls_per_event"], r["cumulative_us_per_event"])
            for r in profile["top_cumulative_in_shared"][:14]
        ]
        out += ["  " + line for line in table(rows, ("function", "calls/event", "cum us/event"))]
        out.append("")
    if sweep := profiles.get("pipeline_by_consumers_per_topic"):
        rows = [
            (int(c), f["events"], f["events_per_second"], cores(f)) for c, f in sweep.items() if measured(f)
        ]
        out.append("pipeline by consumers_per_topic")
        out += [
            "  " + line
            for line in table(rows, ("consumers", "events", "events/s", "cores py/kafka/db/other"))
        ]
    return out


# --------------------------------------------------------------------------------- main


async def measure(options: Options, bench: Bench, *, infrastructure: str) -> dict[str, Any]:
    """Run every selected measurement (and the profiles); return the whole report."""
    processes = find_processes(bench.kafka_bootstrap_servers, bench.mongodb_uri)
    progress(
        f"run {bench.run_id}; CPU measured for "
        + ", ".join(f"{p.role} ({p.name}, pid {p.pid})" for p in processes)
    )
    started = time.perf_counter()
    report: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "infrastructure": infrastructure,
        "load_average_before": load_average(),
        "code": code_version(),
        "options": {k: str(v) for k, v in vars(options).items()},
        **await run(options, bench, CpuMeter(processes)),
    }
    await bench.clean_up()
    report["load_average_after"] = load_average()
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    return report


def code_version() -> dict[str, Any]:
    """The commit measured, and which files of shared/ differed from it (work in progress)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.rstrip() if done.returncode == 0 else ""

    return {
        "commit": git("rev-parse", "--short", "HEAD") or "unknown",
        "shared_changed_since_commit": [
            line[3:] for line in git("status", "--porcelain", "--", "shared").splitlines()
        ],
    }


def load_average() -> str:
    """1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def write(report: dict[str, Any], options: Options) -> str:
    """Write bench.json and summary.txt into the output folder; return the summary."""
    options.output.mkdir(parents=True, exist_ok=True)
    (options.output / "bench.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    summary = summarise(report, options)
    (options.output / "summary.txt").write_text(summary)
    return summary


async def main(argv: Sequence[str]) -> int:
    from tests.support.infrastructure import provide_for_run

    options = parse(argv)
    configure_logging("bench", level="WARNING")
    for noisy, level in (("faststream", logging.WARNING), ("aiokafka", logging.ERROR)):
        logging.getLogger(noisy).setLevel(level)  # topic creation and rebalances are expected here
    infra = provide_for_run()  # exported: every client here and every child logs in to the broker
    try:
        bench = Bench(infra)
        report = await measure(options, bench, infrastructure=infra.origin)
    finally:
        infra.stop()
    summary = write(report, options)
    print(summary)
    if (matching := report["results"].get("matching")) and "error" not in matching:
        print(matching_ranking.summary(matching))
    print(f"written to {options.output}/bench.json and summary.txt ({report['total_seconds']:.0f} s in all)")
    return 1 if "FAILED measurements:" in summary else 0
