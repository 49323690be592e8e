"""Journey benchmark: submitted intake to `session-booked`, at steady open-loop rates.

The four services run as real processes (`tests/e2e/journey/system.py`), on a topic prefix
and databases of their own (dropped afterwards). A directory of therapists is seeded with
room for every client (capacity, and slots over the booking horizon), every client and
therapist is registered with notifications, and every intake is created and completed as
a draft before the clock starts. The timed part is only `POST /v1/intakes/{id}/submit`,
sent at fixed times (open loop: a send never waits for an earlier answer), at each rate
for a set time, 10, 20 then 30 intakes per second for a minute each by default.

Per intake, from the time its submit was due to be sent (so a client-side queue counts
against the system, not hidden by it):

    submit  -> `intake-completed` published   (HTTP request, intake's write, intake's relay)
            -> `match-proposed` published      (matching: consume, rank, hold, relay)
            -> `session-booked` published      (scheduling: consume, claim a slot, relay)
            -> `session-booked` read           (the broker to a consumer: the bench's own)

The three publication times are the records' broker timestamps (set by each relay's
producer as it sends). Reported per rate: p50, p95, p99 and max of the whole journey and
of each stage, the rate achieved, intakes lost (submitted, never booked: must be 0), and the
CPU cores used meanwhile by each service, Kafka, the database server, the bench and the
rest of the machine. Goals on the 2-core reference machine (issue 18): at 10 intakes/s every
intake booked, p99 <= 1 s and <= 100 ms of CPU per intake across all processes; a best
booked rate over the rates of >= 20/s; and, when 50/s is run, p99 <= 1 s at 50/s.

With `--history N` the rates are then timed again once the databases hold N completed
journeys (`history.py`), and per-intake CPU and MongoDB round trips are compared with the
empty system's (goal: within 1.2 x).

    python -m tests.bench.journey [--rates 10,20,30] [--seconds 60] [--set MATCHING_CONSUMERS_PER_TOPIC=2]
        [--trace] [--history 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiokafka.structs import ConsumerRecord
from pymongo import AsyncMongoClient

from shared.http.auth import Role
from tests.bench import history as past
from tests.bench.harness import CpuMeter, Process, find_processes, goal
from tests.bench.profiling import self_time_by_package
from tests.e2e.journey import system as journey_system
from tests.e2e.journey.system import ADMIN, SERVICE, Mailbox, System, bearer, running_system
from tests.e2e.journey.test_journey import CLIENT_WINDOWS, profile
from tests.support.infrastructure import Infrastructure, provide_for_run
from tests.support.kafka import TopicRecorder, drop_topics
from tests.unit.intake.samples import complete_sections

STEADY_RATE = 10.0
"""Issue 18's rate: every intake booked, p99 within `GOAL_P99_MS`, CPU within `CPU_MS_PER_INTAKE`."""
CPU_MS_PER_INTAKE = 100.0
SATURATION_PER_SECOND = 20.0
"""The best booked rate over the rates run (20 and 30 offered by default) must reach this."""
GOAL_RATE = 50.0
"""A burst goal, when 50 intakes/s is among the rates (`--rates 10,50`)."""
GOAL_P99_MS = 1000.0
THERAPISTS = 40
CAPACITY = 500  # the profile's maximum; 40 x 500 covers three holds for each of 3,600 clients
ZONE = "America/Los_Angeles"
# The therapists' week covers the clients' windows (07:00-21:00 daily, same zone): with
# 50-minute sessions on a 30-minute step that is 14 slots a day, ~800 over the horizon.
THERAPIST_WEEK = [{"day": w["day"], "start": "07:00", "end": "21:00"} for w in CLIENT_WINDOWS]
CONCERN_PAIRS = [["anxiety", "stress"], ["depression", "stress"], ["anxiety", "depression"], ["trauma"]]
CONCERNS = ["anxiety", "stress", "depression", "trauma", "grief_loss"]
WATCHED = ("intake-completed", "match-proposed", "session-booked", "booking-failed")
STAGES = ("submit_answered", "to_intake_completed", "to_match_proposed", "to_session_booked", "to_read")
PREPARE_CONCURRENCY = 16
SEND_CONNECTIONS = 100
WARM_UP = 5
SEED = 20_261_128
TUNED = {
    "SCHEDULING_BOOKING_POLICY": "book_at_once",
    # One service token registers every recipient and one address sends every intake: the
    # bench measures throughput, not the public routes' rate limits (shared/http/rate_limits.py).
    **{
        f"{service}_{limit}": "0"
        for service in ("INTAKE", "MATCHING", "SCHEDULING", "NOTIFICATIONS")
        for limit in ("RATE_LIMIT_PER_MINUTE", "RATE_LIMIT_PER_ADDRESS_PER_MINUTE")
    },
}
"""The bench measures submit → booked, so proposals are booked at once (the opt-in
auto-assignment) rather than waiting for a client to choose. `--set NAME=VALUE` overrides."""
T = TypeVar("T")


@dataclass
class Client:
    client_id: str
    intake_id: str
    headers: dict[str, str]
    due: float = 0.0  # wall time its submit was due
    sent: float = 0.0  # wall time it was actually sent
    answered: float = 0.0  # wall time the submit's answer arrived
    status: int = 0


@dataclass
class Seen:
    """Per intake (by correlation id) and event: the record's broker timestamp and when it was read."""

    published: dict[str, dict[str, float]] = field(default_factory=lambda: {e: {} for e in WATCHED})
    read: dict[str, dict[str, float]] = field(default_factory=lambda: {e: {} for e in WATCHED})


class Arrivals(TopicRecorder):
    """One consumer of the journey's topics in the background, stamping each record as it is read."""

    def __init__(self, system: System) -> None:
        super().__init__(system.kafka, WATCHED)
        self.seen = Seen()
        self._topics = {system.kafka.topic(e): e for e in WATCHED}

    def _take(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        now = time.time()
        for record in records:
            event = self._topics[record.topic]
            headers = {k: v.decode() for k, v in record.headers}
            intake = headers.get("correlation_id", "")
            self.seen.published[event].setdefault(intake, record.timestamp / 1000)
            self.seen.read[event].setdefault(intake, now)

    def booked_or_failed(self, clients: Sequence[Client]) -> int:
        done = self.seen.read["session-booked"].keys() | self.seen.read["booking-failed"].keys()
        return sum(1 for c in clients if c.intake_id in done)


# ------------------------------------------------------------------------------ set-up


@contextmanager
def service_settings(overrides: Mapping[str, str]) -> Iterator[None]:
    """Start the services with extra environment (e.g. `SCHEDULING_CONSUMERS_PER_TOPIC=2`).

    `running_system` fixes a few settings for the e2e tests; a tuning run needs to vary
    them, so its environment is extended here rather than copied.
    """
    if not overrides:
        yield
        return
    original: Callable[..., dict[str, str]] = journey_system._environment

    def extended(*args: Any, **kwargs: Any) -> dict[str, str]:
        return {**original(*args, **kwargs), **overrides}

    journey_system._environment = extended
    try:
        yield
    finally:
        journey_system._environment = original


async def seed(http: httpx.AsyncClient, system: System, place: str, rng: random.Random) -> list[str]:
    """Therapists licensed in `place`, each with room for every client and a full week."""
    therapists = [f"therapist-{n:02d}-{uuid.uuid4().hex[:6]}" for n in range(THERAPISTS)]

    async def one(therapist_id: str, specialties: list[dict[str, Any]]) -> None:
        put = await setup(
            http,
            "PUT",
            system.url("matching", f"/therapists/{therapist_id}"),
            json=profile(place, capacity=CAPACITY, specialties=specialties, timezone=ZONE),
            headers=ADMIN,
        )
        expect(put, 200, 201)
        available = await setup(
            http,
            "PUT",
            system.url("scheduling", f"/therapists/{therapist_id}/availability"),
            json={"timezone": ZONE, "weekly": THERAPIST_WEEK},
            headers=ADMIN,
        )
        expect(available, 200)
        await register(http, system, therapist_id, "therapist")

    await gather_limited(
        [
            one(t, [{"concern": c, "years": rng.randint(1, 20)} for c in rng.sample(CONCERNS, 2)])
            for t in therapists
        ]
    )
    return therapists


async def register(http: httpx.AsyncClient, system: System, recipient_id: str, role: str) -> None:
    answer = await setup(
        http,
        "PUT",
        system.url("notifications", f"/recipients/{recipient_id}"),
        json={"role": role, "email": f"{recipient_id}@journey.example", "timezone": ZONE},
        headers=SERVICE,
    )
    expect(answer, 200)


async def prepare(
    http: httpx.AsyncClient,
    system: System,
    place: str,
    count: int,
    say: Callable[[str], None],
) -> list[Client]:
    """`count` clients, each registered with a complete intake draft ready to submit."""
    ready = 0
    started = time.perf_counter()

    async def one(n: int) -> Client:
        client_id = f"client-{n:05d}-{uuid.uuid4().hex[:6]}"
        me = bearer(client_id, Role.client)
        sections = complete_sections(
            jurisdiction=place,
            timezone=ZONE,
            availability=CLIENT_WINDOWS,
            concerns=CONCERN_PAIRS[n % len(CONCERN_PAIRS)],
        )
        first_half = {k: sections[k] for k in ("jurisdiction", "timezone", "languages", "concerns")}
        created = await setup(
            http,
            "POST",
            system.url("intake", "/intakes"),
            json={"client_id": client_id, **first_half},
            headers=me,
        )
        expect(created, 201)
        intake_id = str(created.json()["id"])
        rest = {k: v for k, v in sections.items() if k not in first_half}
        saved = await setup(
            http, "PATCH", system.url("intake", f"/intakes/{intake_id}"), json=rest, headers=me
        )
        expect(saved, 200)
        await register(http, system, client_id, "client")
        nonlocal ready
        ready += 1
        if ready % 250 == 0:
            say(f"journey: {ready} of {count} drafts ready ({ready / (time.perf_counter() - started):.1f}/s)")
        return Client(client_id, intake_id, me)

    return await gather_limited([one(n) for n in range(count)])


async def setup(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """A set-up request, retried on 503 (busy) or a dropped connection, as a client would.

    Retrying is safe here: every set-up write is a PUT, or a draft no one else sees.
    """
    for attempt in range(10):
        try:
            answer = await http.request(method, url, **kwargs)
        except httpx.TransportError:
            if attempt == 9:
                raise
        else:
            if answer.status_code != 503 or attempt == 9:
                return answer
        await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def expect(answer: httpx.Response, *statuses: int) -> None:
    if answer.status_code not in statuses:
        raise RuntimeError(
            f"{answer.request.method} {answer.request.url}: {answer.status_code} {answer.text}"
        )


async def gather_limited(jobs: Sequence[Any], limit: int = PREPARE_CONCURRENCY) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def gated(job: Any) -> T:
        async with gate:
            result: T = await job
            return result

    return list(await asyncio.gather(*(gated(j) for j in jobs)))


# --------------------------------------------------------------------------- the window


async def submit(http: httpx.AsyncClient, system: System, client: Client) -> None:
    client.sent = time.time()
    try:
        answer = await http.post(
            system.url("intake", f"/intakes/{client.intake_id}/submit"), headers=client.headers
        )
        client.status = answer.status_code
    except httpx.HTTPError:
        client.status = -1
    client.answered = time.time()


async def steady(http: httpx.AsyncClient, system: System, clients: Sequence[Client], rate: float) -> None:
    """Send each submit at its fixed time, never waiting for an answer before the next."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1
    wall = time.time() - loop.time()
    tasks: list[asyncio.Task[None]] = []
    for n, client in enumerate(clients):
        due = start + n / rate
        client.due = wall + due
        if (delay := due - loop.time()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(submit(http, system, client)))
    await asyncio.gather(*tasks)


def percentiles(samples: Sequence[float]) -> dict[str, float] | None:
    if not samples:
        return None
    ordered = sorted(samples)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 1)

    return {
        "p50_ms": at(0.50),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1] * 1000, 1),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1),
    }


def figures(
    clients: Sequence[Client], seen: Seen, rate: float, seconds: float, *, ended: float
) -> dict[str, Any]:
    """The journey's latency, its stages, the achieved rate and what was lost.

    `latency` is of the intakes booked; `latency_all` counts each unbooked one as its wait
    until the drain `ended` (a lower bound), so a backlog cannot flatter the percentiles.
    """
    published, read = seen.published, seen.read
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    whole: list[float] = []
    booked_at: list[float] = []
    lost: set[str] = set()
    for c in clients:
        i = c.intake_id
        if i not in read["session-booked"]:
            lost.add(i)
            continue
        whole.append(read["session-booked"][i] - c.due)
        booked_at.append(read["session-booked"][i])
        stages["submit_answered"].append(c.answered - c.due)
        if i in published["intake-completed"] and i in published["match-proposed"]:
            stages["to_intake_completed"].append(published["intake-completed"][i] - c.due)
            stages["to_match_proposed"].append(
                published["match-proposed"][i] - published["intake-completed"][i]
            )
            stages["to_session_booked"].append(
                published["session-booked"][i] - published["match-proposed"][i]
            )
            stages["to_read"].append(read["session-booked"][i] - published["session-booked"][i])
    sent = [c.sent for c in clients]
    span = max(sent) - min(sent) if len(sent) > 1 else 0.0
    lag = [c.sent - c.due for c in clients]
    return {
        "offered_per_second": rate,
        "seconds": seconds,
        "intakes": len(clients),
        "achieved_per_second": round((len(sent) - 1) / span, 2) if span > 0 else None,
        "sender_lag_max_ms": round(max(lag) * 1000, 1),
        "submit_errors": sum(1 for c in clients if c.status != 200),
        "booked": len(whole),
        "booking_failed": sum(1 for c in clients if c.intake_id in read["booking-failed"]),
        "lost": len(lost),
        "lost_examples": sorted(lost)[:5],
        "booked_per_second": round((len(booked_at) - 1) / (max(booked_at) - min(booked_at)), 2)
        if len(booked_at) > 1 and max(booked_at) > min(booked_at)
        else None,
        "latency": percentiles(whole),
        "latency_all": percentiles(whole + [ended - c.due for c in clients if c.intake_id in lost]),
        "stages": {s: percentiles(v) for s, v in stages.items()},
    }


def bound(result: dict[str, Any]) -> str:
    """What the figures say bounds the latency: the stage with the largest p99, and the CPU."""
    stages = {s: f["p99_ms"] for s, f in result["stages"].items() if f and s != "submit_answered"}
    if not stages:
        return "nothing was booked"
    worst = max(stages, key=lambda s: stages[s])
    cores = result.get("cpu", {}).get("cores", {})
    busy = sum(cores.values())
    services = {k: v for k, v in cores.items() if k in journey_system.SERVICES}
    hottest = max(services, key=lambda k: services[k]) if services else "?"
    saturated = "CPU saturated" if busy >= 1.8 else "CPU not saturated"
    return (
        f"{worst} dominates (p99 {stages[worst]:.0f} ms of {result['latency']['p99_ms']:.0f} ms); "
        f"{saturated} ({busy:.2f} of 2 cores busy; hottest service {hottest} {services.get(hottest, 0):.2f})"
    )


TRACER = Path(__file__).resolve().parent / "service_trace"
REPOSITORY = Path(__file__).resolve().parents[2]
"""On the path too: the tracer imports `tests.bench.profiling` before `-m` puts the directory there."""


def traced(folder: Path) -> dict[str, str]:
    """Service environment that counts each process's MongoDB round trips (see service_trace/)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join(p for p in (str(TRACER), str(REPOSITORY), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "BENCH_TRACE_DIR": str(folder)}


def profiled(folder: Path) -> dict[str, str]:
    """Service environment whose SIGUSR1 starts, then stops and writes, a CPU profile (service_trace/)."""
    folder.mkdir(parents=True, exist_ok=True)
    return {"BENCH_PROFILE_DIR": str(folder)}


def toggle_profiles(system: System, folder: Path | None) -> None:
    if folder is not None:
        for process in system.processes.values():
            with suppress(OSError):
                os.kill(process.popen.pid, signal.SIGUSR1)


def profile_summaries(system: System, folder: Path, *, intakes: int) -> dict[str, Any]:
    """Per service: its profile's file, CPU ms per intake under the profiler, and the owners of
    the code that used it (self time)."""
    out: dict[str, Any] = {}
    for name, process in system.processes.items():
        path = folder / f"{process.popen.pid}.prof"
        if not path.exists():
            continue
        stats = pstats.Stats(str(path))
        owners = self_time_by_package(stats, events=intakes)
        out[name] = {
            "file": str(path),
            "cpu_ms_per_intake_profiled": round(sum(r["seconds"] for r in owners) * 1000 / intakes, 2),
            "owners": owners[:12],
        }
    return out


def round_trips(system: System, folder: Path | None) -> dict[str, dict[str, list[float]]]:
    """Each service's running totals of round trips: {service: {"find coll": [count, seconds]}}."""
    if folder is None:
        return {}
    found: dict[str, dict[str, list[float]]] = {}
    for name, process in system.processes.items():
        with suppress(OSError, ValueError):
            found[name] = json.loads((folder / f"{process.popen.pid}.json").read_text())["commands"]
    return found


def round_trips_between(
    before: dict[str, dict[str, list[float]]], after: dict[str, dict[str, list[float]]], intakes: int
) -> dict[str, Any]:
    """Round trips per intake by service, and the heaviest (command, collection) of each."""
    out: dict[str, Any] = {}
    for name, totals in after.items():
        rows = []
        for call, (count, seconds) in totals.items():
            was = before.get(name, {}).get(call, [0, 0.0])
            if count - was[0] > 0:
                rows.append((call, (count - was[0]) / intakes, (seconds - was[1]) * 1000 / (count - was[0])))
        rows.sort(key=lambda r: -r[1] * r[2])
        out[name] = {
            "per_intake": round(sum(r[1] for r in rows), 1),
            "top": [{"call": c, "per_intake": round(n, 2), "mean_ms": round(ms, 2)} for c, n, ms in rows[:8]],
            "ms_per_intake": {c: round(n * ms, 2) for c, n, ms in rows},  # every call, for comparisons
            "calls_per_intake": {c: round(n, 2) for c, n, _ in rows},
        }
    return out


IDLE_SECONDS = 15.0
"""How long the system is watched doing nothing, after the last rate's drain."""


async def idle(cpu: CpuMeter, seconds: float = IDLE_SECONDS) -> dict[str, Any]:
    """Cores each process uses with nothing to do: polls, heartbeats, sweeps. At a rate r, each
    intake's CPU carries idle cores / r of it (at 10/s, 0.1 of a core idle is 10 ms per intake)."""
    await asyncio.sleep(2.0)  # the last rate's removals of sent outbox entries settle
    before = cpu.snapshot()
    await asyncio.sleep(seconds)
    usage = CpuMeter.usage(before, cpu.snapshot())
    total = sum(v for k, v in usage["cores"].items() if k != "other")
    return {"seconds": seconds, "cores": usage["cores"], "total_cores": round(total, 3)}


async def window(
    http: httpx.AsyncClient,
    system: System,
    arrivals: Arrivals,
    clients: Sequence[Client],
    rate: float,
    seconds: float,
    cpu: CpuMeter,
    *,
    drain_seconds: float,
    trace: Path | None = None,
) -> dict[str, Any]:
    """One rate: send for `seconds`, then wait until every intake is booked (or the drain ends)."""
    load_before = load_average()
    trips_before = round_trips(system, trace)
    before = cpu.snapshot()
    mailed_before = len(system.mail.messages)
    await steady(http, system, clients, rate)
    sent = cpu.snapshot()
    deadline = time.monotonic() + drain_seconds
    while arrivals.booked_or_failed(clients) < len(clients) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    booked_by = time.monotonic()
    last_mail = await mail_settled(
        system.mail, deadline, expected=mailed_before + EMAILS_PER_INTAKE * len(clients)
    )
    after = cpu.snapshot()
    result = figures(clients, arrivals.seen, rate, seconds, ended=time.time())
    result["cpu"] = CpuMeter.usage(before, sent, events=len(clients))
    result["cpu_with_drain"] = CpuMeter.usage(before, after, events=len(clients))
    result["drain_seconds"] = round(after[0] - sent[0], 1)
    result["last_email_after_booking_seconds"] = round(max(0.0, last_mail - booked_by), 1)
    result["emails_per_intake"] = round((len(system.mail.messages) - mailed_before) / len(clients), 2)
    result["load_average_before"], result["load_average_after"] = load_before, load_average()
    result["bound_by"] = bound(result)
    if trace is not None:
        await asyncio.sleep(1.5)  # the services write their totals every second
        result["mongo_round_trips"] = round_trips_between(
            trips_before, round_trips(system, trace), len(clients)
        )
    return result


EMAILS_PER_INTAKE = 4
"""E-mails each of the bench's intakes causes: intake received, match proposed, and the session
booked, to the client and to the therapist."""

MAIL_QUIET_SECONDS = 10.0
"""After the last booking, the drain also waits for every intake's e-mails (or the drain's end,
or a pause this long): so CPU per intake includes notifications' work, and a notifications
service that fell behind or stopped shows as fewer e-mails per intake. (It waited for 3 s of
quiet only: at 30 intakes/s a backlogged notifications service paused that long and the
window ended with 3.0 e-mails per intake sent.)"""


async def mail_settled(mail: Mailbox, deadline: float, *, expected: int) -> float:
    """Wait until the SMTP sink holds `expected` messages, has been quiet for
    `MAIL_QUIET_SECONDS`, or the drain ends; return when (`time.monotonic()`) the last e-mail
    was seen arriving."""
    count, quiet_since = len(mail.messages), time.monotonic()
    while (
        count < expected
        and time.monotonic() < deadline
        and time.monotonic() - quiet_since < MAIL_QUIET_SECONDS
    ):
        await asyncio.sleep(0.2)
        if (now := len(mail.messages)) != count:
            count, quiet_since = now, time.monotonic()
    return quiet_since


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


# --------------------------------------------------------------------------------- run


async def run(
    *,
    infra: Infrastructure,
    rates: Sequence[float] = (10.0, 20.0, 30.0),
    seconds: float = 60.0,
    drain_seconds: float = 120.0,
    settings: Mapping[str, str] | None = None,
    trace: bool = False,
    history: int = 0,
    profile: bool = False,
    logs: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Start the system, seed it, prepare every intake, then time each rate in turn.

    With `history` > 0, the databases are then filled with that many completed journeys
    (`history.py`) and every rate is timed again on fresh intakes, round trips counted.
    With `profile`, each service runs under cProfile (CPU time) from the first rate's start to
    the last one's drain (`service_trace/`); where its CPU went is in `results["profiles"]`.
    """
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    rng = random.Random(SEED)
    place = f"US-{uuid.uuid4().hex[:3].upper()}"  # a place of this run's own, in a served country
    counts = [round(rate * seconds) for rate in rates]
    logs = logs or Path(tempfile.mkdtemp(prefix="bench-journey-"))
    results: dict[str, Any] = {
        "rates": list(rates),
        "seconds": seconds,
        "settings": {**TUNED, **(settings or {})},
        "therapists": THERAPISTS,
        "capacity_each": CAPACITY,
        "logs": str(logs),
    }
    tracing = logs / "trace" if trace or history or profile else None
    profiles = logs / "profiles" if profile else None
    environment = {
        **TUNED,
        **(settings or {}),
        **(traced(tracing) if tracing else {}),
        **(profiled(profiles) if profiles else {}),
    }
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(infra.mongodb_uri)
    system: System | None = None
    try:
        with service_settings(environment), running_system(infra, logs) as system:
            pids = ", ".join(f"{name} {p.popen.pid}" for name, p in system.processes.items())
            say(f"journey: services up ({pids}; logs in {logs})")
            arrivals = Arrivals(system)
            await arrivals.start()
            limits = httpx.Limits(
                max_connections=SEND_CONNECTIONS, max_keepalive_connections=SEND_CONNECTIONS
            )
            try:
                async with httpx.AsyncClient(timeout=60, limits=limits) as http:
                    started = time.perf_counter()
                    for on_call in system.rota:
                        await register(http, system, on_call, "on_call")
                    therapists = await seed(http, system, place, rng)
                    clients = await prepare(http, system, place, WARM_UP + sum(counts), say)
                    results["prepare_seconds"] = round(time.perf_counter() - started, 1)
                    say(f"journey: {THERAPISTS} therapists and {len(clients)} intake drafts ready")
                    warm, clients = clients[:WARM_UP], clients[WARM_UP:]
                    await steady(http, system, warm, 2.0)  # first requests pay for imports and connections
                    deadline = time.monotonic() + 60
                    while arrivals.booked_or_failed(warm) < len(warm) and time.monotonic() < deadline:
                        await asyncio.sleep(0.1)
                    cpu = CpuMeter(processes_of(system, infra.kafka_bootstrap_servers, infra.mongodb_uri))

                    async def each_rate(clients: list[Client], label: str = "") -> dict[str, Any]:
                        by_rate: dict[str, Any] = {}
                        for rate, count in zip(rates, counts, strict=True):
                            batch, clients = clients[:count], clients[count:]
                            say(f"journey{label}: {count} intakes at {rate:g}/s ...")
                            by_rate[f"{rate:g}"] = result = await window(
                                http,
                                system,
                                arrivals,
                                batch,
                                rate,
                                seconds,
                                cpu,
                                drain_seconds=drain_seconds,
                                trace=tracing,
                            )
                            say(f"journey{label}: {rate:g}/s: {line(result)}")
                        return by_rate

                    toggle_profiles(system, profiles)  # on: from the first rate
                    results["by_rate"] = await each_rate(clients)
                    if profiles is not None:
                        toggle_profiles(system, profiles)  # off, and written
                        await asyncio.sleep(1.0)
                        results["profiles"] = profile_summaries(system, profiles, intakes=sum(counts))
                    # After the rates (and the profiles), not before: a pause between preparing
                    # the intakes and sending them would let the services' cached client keys
                    # (30 s) lapse, and the rates' round trips would not compare with earlier runs'.
                    results["idle"] = await idle(cpu)
                    say(f"journey: idle after the rates, cores by process: {results['idle']['cores']}")
                    if history:
                        results["history"] = stored = await with_history(
                            mongo, system, history, journeys=WARM_UP + sum(counts), fixed=therapists, say=say
                        )
                        later = await prepare(http, system, place, sum(counts), say)
                        stored["by_rate"] = await each_rate(later, " with history")
                        stored["comparison"] = past.compare(results["by_rate"], stored["by_rate"])
                        stored["goal"] = past.goal(stored["comparison"])
            finally:
                await arrivals.stop()
    finally:
        if system is not None:
            for database in system.databases.values():
                with suppress(Exception):
                    await mongo.drop_database(database)
            await drop_topics(system.kafka)
        await mongo.close()
    results["goals"] = goals(results)
    return results


async def with_history(
    mongo: AsyncMongoClient[Any],
    system: System,
    target: int,
    *,
    journeys: int,
    fixed: Sequence[str],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Fill every service's database with `target` completed journeys, copied from the `journeys` run."""
    say(f"journey: filling the databases with {target:,} completed journeys ...")
    filled = await past.fill(
        mongo, system.databases, journeys=journeys, target=target, fixed_ids=[*fixed, *system.rota], say=say
    )
    say(
        f"journey: {filled['documents_written']:,} documents written in {filled.get('fill_seconds', 0):g} s "
        f"({filled.get('documents_per_second')}/s); {filled['journeys_stored']:,} journeys stored"
    )
    await asyncio.sleep(past.SETTLE_SECONDS)
    return {"filled": filled}


def processes_of(system: System, kafka_bootstrap_servers: str, mongodb_uri: str) -> list[Process]:
    """The bench (and its SMTP sink), each service process, the broker and the database server."""
    found = [
        Process("bench" if p.role == "python" else p.role, p.pid, p.name)
        for p in find_processes(kafka_bootstrap_servers, mongodb_uri)
    ]
    return found + [Process(name, p.popen.pid, name) for name, p in system.processes.items()]


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The journey's goals, for each rate the run measured: at `STEADY_RATE`, every intake booked
    within `GOAL_P99_MS` at p99 and at most `CPU_MS_PER_INTAKE` of CPU per intake across all
    processes (drain included); over the rates, a best booked rate of `SATURATION_PER_SECOND`;
    at `GOAL_RATE`, p99 within `GOAL_P99_MS`."""
    by_rate = results.get("by_rate", {})
    found: list[dict[str, Any]] = []
    if (steady := by_rate.get(f"{STEADY_RATE:g}")) and steady.get("latency_all"):
        p99 = steady["latency_all"]["p99_ms"]
        booked = steady["lost"] == 0 and steady["submit_errors"] == 0 and steady["booking_failed"] == 0
        found.append(
            goal(
                "journey",
                f"journey p99 <= {GOAL_P99_MS / 1000:g} s at {STEADY_RATE:g} intakes/s, all booked",
                round(p99 / 1000, 2),
                p99 <= GOAL_P99_MS and booked,
            )
        )
        cpu = sum(steady["cpu_with_drain"]["cpu_ms_per_event"].values())
        found.append(
            goal(
                "journey",
                f"CPU per intake <= {CPU_MS_PER_INTAKE:g} ms at {STEADY_RATE:g}/s (all processes)",
                round(cpu, 1),
                cpu <= CPU_MS_PER_INTAKE,
            )
        )
    if len(by_rate) > 1:
        best = max(r["booked_per_second"] for r in by_rate.values())
        found.append(
            goal(
                "journey",
                f"saturation >= {SATURATION_PER_SECOND:g} booked/s (best of {', '.join(by_rate)}/s)",
                best,
                best >= SATURATION_PER_SECOND,
            )
        )
    if (at_goal := by_rate.get(f"{GOAL_RATE:g}")) and at_goal.get("latency_all"):
        p99 = at_goal["latency_all"]["p99_ms"]
        found.append(
            goal(
                "journey",
                f"journey p99 <= {GOAL_P99_MS / 1000:g} s at {GOAL_RATE:g} intakes/s, none lost",
                round(p99 / 1000, 2),
                p99 <= GOAL_P99_MS and at_goal["lost"] == 0,
            )
        )
    return found


# ----------------------------------------------------------------------------- summary


def line(result: dict[str, Any]) -> str:
    lat = result.get("latency")
    if not lat:
        return f"nothing booked; unbooked after the drain {result['lost']}"
    return (
        f"p50 {lat['p50_ms']:.0f} ms, p95 {lat['p95_ms']:.0f}, p99 {lat['p99_ms']:.0f}, "
        f"max {lat['max_ms']:.0f}; "
        f"achieved {result['achieved_per_second']}/s, unbooked after the drain {result['lost']}"
    )


def summary(results: dict[str, Any]) -> str:
    out = [
        f"journey: submit -> session-booked read, {THERAPISTS} therapists, open loop, "
        f"{results['seconds']:g} s per rate"
        + (f"; settings {results['settings']}" if results["settings"] else "")
    ]
    if still := results.get("idle"):
        cores = ", ".join(f"{k} {v:.2f}" for k, v in still["cores"].items())
        total = still["total_cores"]
        out.append(f"  idle after the rates ({still['seconds']:g} s): {total:.2f} cores ({cores})")
    for rate, r in results.get("by_rate", {}).items():
        out.append(f"  {rate}/s ({r['intakes']} intakes, load {r['load_average_before']}): {line(r)}")
        if r["lost"] and (every := r.get("latency_all")):
            out.append(
                f"    counting each unbooked intake as its wait to the drain's end: p50 >= "
                f"{every['p50_ms']:.0f} ms, p95 >= {every['p95_ms']:.0f}, p99 >= {every['p99_ms']:.0f}"
            )
        out.append(
            f"    booked {r['booked']}, booking-failed {r['booking_failed']}, "
            f"submit errors {r['submit_errors']}, "
            f"booked/s {r['booked_per_second']}, sender lag max {r['sender_lag_max_ms']:.0f} ms, "
            f"drain {r['drain_seconds']:.0f} s"
        )
        if "emails_per_intake" in r:
            out.append(
                f"    e-mails per intake {r['emails_per_intake']}, the last "
                f"{r['last_email_after_booking_seconds']:.1f} s after the last booking"
            )
        stages = "; ".join(
            f"{s} {f['p50_ms']:.0f}/{f['p95_ms']:.0f}/{f['p99_ms']:.0f}"
            for s, f in r["stages"].items()
            if f is not None
        )
        out.append(f"    stages p50/p95/p99 ms: {stages}")
        cores = r["cpu"]["cores"]
        out.append("    cores while sending: " + ", ".join(f"{k} {v:.2f}" for k, v in cores.items()))
        out.append(f"    bound by: {r['bound_by']}")
        for name, trips in r.get("mongo_round_trips", {}).items():
            top = ", ".join(f"{t['call']} x{t['per_intake']} {t['mean_ms']:.1f} ms" for t in trips["top"][:5])
            out.append(f"    {name}: {trips['per_intake']} MongoDB round trips per intake; {top}")
    for name, profiled_ in results.get("profiles", {}).items():
        owners = ", ".join(f"{o['package']} {o['share']:.0%}" for o in profiled_["owners"][:6])
        out.append(
            f"  profile {name}: {profiled_['cpu_ms_per_intake_profiled']} CPU ms per intake under cProfile "
            f"({profiled_['file']}); {owners}"
        )
    for g in results.get("goals", []):
        out.append(f"  goal {g['goal']}: {g['measured']}, {g['result'].upper()}")
    if stored := results.get("history"):
        out += past.summary(stored)
        for rate, r in stored.get("by_rate", {}).items():
            out.append(f"    with history, {rate}/s ({r['intakes']} intakes): {line(r)}")
            for name, trips in r.get("mongo_round_trips", {}).items():
                top = ", ".join(
                    f"{t['call']} x{t['per_intake']} {t['mean_ms']:.1f} ms" for t in trips["top"][:5]
                )
                out.append(f"      {name}: {trips['per_intake']} MongoDB round trips per intake; {top}")
        if g := stored.get("goal"):
            out.append(f"  goal {g['goal']}: x{g['measured']}, {g['result'].upper()}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.journey", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rates", default=os.environ.get("BENCH_JOURNEY_RATES", "10,20,30"))
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_JOURNEY_SECONDS", "60")))
    parser.add_argument("--set", action="append", default=[], help="service environment, NAME=VALUE")
    parser.add_argument(
        "--drain-seconds", type=float, default=float(os.environ.get("BENCH_JOURNEY_DRAIN_SECONDS", "120"))
    )
    parser.add_argument("--trace", action="store_true", help="count each service's MongoDB round trips")
    parser.add_argument(
        "--history",
        type=int,
        default=int(os.environ.get("BENCH_JOURNEY_HISTORY", "0")),
        help="then store this many completed journeys and time the rates again (implies --trace)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile each service's CPU over the rates (cProfile)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.set)
    infra = provide_for_run()  # the servers found or started, with the broker's logins
    try:
        results = asyncio.run(
            run(
                infra=infra,
                rates=[float(r) for r in args.rates.split(",")],
                seconds=args.seconds,
                settings=overrides,
                trace=args.trace,
                history=args.history,
                profile=args.profile,
                drain_seconds=args.drain_seconds,
            )
        )
    finally:
        infra.stop()
    print(summary(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
