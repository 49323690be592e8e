"""`make demo`: its own Carepath on a fast clock, a synthetic directory, two dozen clients to check-in.

Self-contained: it finds Kafka and MongoDB like `make run` (deploy/local/discovery.py), then
starts its own four services and mail/SMS sinks through `run_services.start_all`, on their
own ports (8901–8904, sinks 1925/8925), topics (`carepath-demo-<run>.`) and databases
(`carepath_demo_<service>`, emptied first), so a running `make run` is not disturbed. The
services run on the demo clock (shared/clock.py): `DEMO_CLOCK_SPEED` (10000 unless set: a
day in 8.6 s) from `DEMO_CLOCK_EPOCH`, the moment they are started, so the booking notice,
reminders 24 h and 1 h ahead, and the check-in a plan interval after the introduction all
happen within a minute, as real timers and events; nothing is faked. Timers are polled
every 0.1 s, so one fires at most about 17 domain minutes late at 10000x.

From a fixed seed it puts a few hundred therapists (jurisdictions, languages, approaches,
prices, availability) through matching's and scheduling's admin APIs, registers everyone
with notifications, then walks two dozen sample clients (one of them high-risk) through
intake → proposal → the client accepts the best-ranked therapist → introduction booked →
the therapist marks it held once it has started → the therapist writes the plan from the
intake's goals (a check-in every day) → the client acknowledges it → the series booked at the
plan's cadence, reminders → check-in due → check-in answered (intake's API, as the client) →
check-in completed, after which the clinician reviews the plan (check-ins every two weeks
from then on). It shows
progress while it runs, then stops its services (they drain and commit) and prints
each client's event trail under its correlation id: domain time, real seconds, type,
service, and the notifications each event caused, with where the e-mails went
(`.local/demo/notifications/mail/*.eml`; service logs in `.local/demo/logs/`). The demo's
topics are deleted at the end; its databases stay until the next run.

Run as `python -m deploy.local.demo` from the repository root; `JWT_SECRET` and the field
encryption key come from the environment (the Makefile exports the development ones).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr
from pymongo import MongoClient
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from deploy.local.discovery import REPO
from deploy.local.run_services import Layout, existing_services, infrastructure_env, start_all, stop_all
from shared.clock import ClockSettings, build_clock, speed_of
from shared.http.auth import Role, mint_token
from shared.http.scopes import RECIPIENTS_CONTACT
from shared.messaging.broker import kafka_options_at
from shared.ports import Clock
from shared.settings import AuthSettings

SEED = 20261128
THERAPISTS = 300
CLIENTS = 24
HIGH_RISK_CLIENT = 7  # the eighth client screens positive, high risk
DEFAULT_SPEED = "10000"
DEMO_DIR = REPO / ".local" / "demo"
LAYOUT = Layout(
    ports={"intake": 8901, "matching": 8902, "scheduling": 8903, "notifications": 8904},
    smtp_port=1925,
    provider_port=8925,
    sink_dir=DEMO_DIR / "notifications",
)
LOG_DIR = DEMO_DIR / "logs"
MAIL_DIR = LAYOUT.mail_dir
ON_CALL = LAYOUT.on_call_rota
# Real seconds for a step that needs no domain time to pass (a busy 2-core machine needs
# minutes for two dozen proposals), and for the check-in: the introduction and a day after it.
STEP_TIMEOUT = 180.0
CHECK_IN_TIMEOUT = 240.0
START_TIMEOUT = 120.0
SETTLE_TIMEOUT = 30.0
WALK = (
    "intake",
    "proposal",
    "accepted",
    "introduction",
    "held",
    "plan",
    "acknowledged",
    "check-in due",
    "answered",
    "completed",
)
EVENTS = (
    "intake-completed",
    "risk-flagged",
    "match-proposed",
    "match-accepted",
    "match-declined",
    "booking-failed",
    "session-booked",
    "session-rescheduled",
    "session-cancelled",
    "session-attendance-recorded",
    "treatment-plan-updated",
    "check-in-due",
    "check-in-completed",
    "check-in-missed",
    "notification-delivered",
    "notification-failed",
)

# jurisdiction: (time zone, languages spoken there)
PLACES: dict[str, tuple[str, list[str]]] = {
    "US-CA": ("America/Los_Angeles", ["en", "es"]),
    "US-NY": ("America/New_York", ["en", "es"]),
    "US-TX": ("America/Chicago", ["en", "es"]),
    "US-WA": ("America/Los_Angeles", ["en"]),
    "GB": ("Europe/London", ["en"]),
    "NL": ("Europe/Amsterdam", ["nl", "en"]),
    "ES": ("Europe/Madrid", ["es", "en"]),
    "MX": ("America/Mexico_City", ["es"]),
}
CONCERNS = [
    "stress", "anxiety", "depression", "trauma", "grief_loss", "life_transition", "relationships",
    "personal_growth", "ocd", "ptsd", "substance_use", "disordered_eating", "somatic", "career_change",
]  # fmt: skip
APPROACHES = ["cbt", "act", "psychodynamic", "solution_focused"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
GENDERS = ["female", "male", "nonbinary", "undisclosed"]
CREDENTIALS = ["lmft", "lcsw", "lpc", "psyd", "phd", "bacp", "big"]


# ---------------------------------------------------------------- synthetic data


def therapist_profile(rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    """A therapist's profile (matching) and availability (scheduling), from the seeded generator."""
    home = rng.choice(list(PLACES))
    zone, spoken = PLACES[home]
    country = home.split("-")[0]
    others = [p for p in PLACES if p != home and p.split("-")[0] == country]
    licensed = [home, *rng.sample(others, k=min(len(others), rng.choice([0, 0, 1, 2])))]
    languages = [spoken[0], *[lang for lang in spoken[1:] if rng.random() < 0.5]]
    specialties = [
        {"concern": concern, "years": rng.randint(1, 25)}
        for concern in rng.sample(CONCERNS, k=rng.randint(1, 5))
    ]
    profile = {
        "gender": rng.choice(GENDERS),
        "languages": languages,
        "licensed_jurisdictions": licensed,
        "credentials": rng.sample(CREDENTIALS, k=rng.randint(1, 2)),
        "specialties": specialties,
        "approaches": rng.sample(APPROACHES, k=rng.randint(1, 3)),
        "competencies": rng.sample(
            ["lgbtq", "bipoc", "neurodiversity", "faith", "veterans"], k=rng.randint(0, 2)
        ),
        "formats": ["video"],
        "price_per_session": rng.randrange(60, 260, 10),
        "capacity": rng.randint(5, 30),
        "high_acuity": rng.random() < 0.2,
        "timezone": zone,
    }
    start = rng.choice([7, 8, 9, 10, 12])
    days = sorted(rng.sample(DAYS[:6], k=rng.randint(3, 5)), key=DAYS.index)
    window = {"start": f"{start:02d}:00", "end": f"{min(start + rng.randint(5, 10), 22):02d}:00"}
    availability = {"timezone": zone, "weekly": [{"day": day, **window} for day in days]}
    return profile, availability


def intake_sections(rng: random.Random, *, high_risk: bool) -> dict[str, Any]:
    """Every section of an intake for a synthetic client (free text left out: it is a demo)."""
    jurisdiction = rng.choice(list(PLACES))
    zone, spoken = PLACES[jurisdiction]
    concerns = rng.sample(CONCERNS, k=rng.randint(1, 3))
    phq9 = [rng.randint(0, 2) for _ in range(8)] + [0]
    sections: dict[str, Any] = {
        "jurisdiction": jurisdiction,
        "timezone": zone,
        "languages": [spoken[0]],
        "concerns": concerns,
        "goals": [{"code": "feel_better", "kind": "specific_issue"}],
        "phq9": phq9,
        "gad7": [rng.randint(0, 3) for _ in range(7)],
        "preferences": {
            "format": "video",
            "language": spoken[0],
            "approach": rng.choice([None, *APPROACHES]),
        },
        "availability": [{"day": day, "start": "08:00", "end": "20:00"} for day in DAYS[:6]],
    }
    if high_risk:
        sections["phq9"] = [3, 3, 3, 2, 2, 2, 2, 2, 2]
        sections["cssrs"] = {"q1": True, "q2": True, "q3": True, "q4": True, "q5": False, "q6_ever": False}
    return sections


# ---------------------------------------------------------------- the event trail


@dataclass
class Step:
    id: str
    at: datetime  # domain time (the event's ce_time, from the service's demo clock)
    real: float  # when the broker got it, real seconds since the epoch
    event: str
    service: str
    data: dict[str, Any]


@dataclass
class Trails:
    """Every event of the demo's topics, grouped by correlation id, read in the background."""

    bootstrap: str
    prefix: str
    by_journey: dict[str, list[Step]] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            *(self.prefix + name for name in EVENTS),
            **kafka_options_at(self.bootstrap),
            group_id=f"carepath-demo-{uuid.uuid4().hex[:12]}",  # a fresh group, from the start
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=2000,
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._collect())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _collect(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=300)
            for records in batch.values():
                for record in records:
                    headers = {key: value.decode() for key, value in record.headers}
                    journey = headers.get("correlation_id")
                    if not journey:
                        continue
                    step = Step(
                        id=headers.get("ce_id", ""),
                        at=datetime.fromisoformat(headers.get("ce_time", "").replace("Z", "+00:00")),
                        real=record.timestamp / 1000,
                        event=record.topic.removeprefix(self.prefix),
                        service=headers.get("ce_source", "").rsplit("/", 1)[-1],
                        data=json.loads(record.value),
                    )
                    self.by_journey.setdefault(journey, []).append(step)

    def of(self, journey: str) -> list[Step]:
        return sorted(self.by_journey.get(journey, []), key=lambda s: (s.real, s.at))

    async def wait_for(
        self,
        journey: str,
        event: str,
        *,
        timeout: float = STEP_TIMEOUT,
        where: Mapping[str, Any] | None = None,
    ) -> Step | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for step in self.of(journey):
                if step.event == event and all(step.data.get(k) == v for k, v in (where or {}).items()):
                    return step
            await asyncio.sleep(0.2)
        return None


# ---------------------------------------------------------------- the walk


@dataclass
class Client:
    client_id: str
    sections: dict[str, Any]
    high_risk: bool
    intake_id: str = ""
    reached: int = 0  # how many steps of WALK it got through
    therapist_id: str | None = None
    match_id: str | None = None
    introduction: dict[str, Any] | None = None
    started: float = 0.0
    finished: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def email(self) -> str:
        return f"{self.client_id}@clients.demo.carepath.local"

    @property
    def outcome(self) -> str:
        if self.reached == len(WALK):
            return "check-in completed"
        return f"stopped after {WALK[self.reached - 1]}" if self.reached else "not started"


PLAN: dict[str, Any] = {
    "approach": "cbt",
    "session_cadence": "weekly",
    "check_in_interval_days": 1,  # the shortest a plan may ask for
}
"""The rest of the plan; its goals are the intake's, from intake's draft for the therapist."""


def check_in_answers(goals: list[str]) -> dict[str, Any]:
    """A client a little better than at intake: every item 0 or 1, item 9 at 0."""
    return {
        "phq9": [1, 1, 0, 1, 0, 1, 0, 0, 0],
        "gad7": [1, 0, 1, 0, 1, 0, 0],
        "goal_progress": [{"goal": goal, "score": 6} for goal in goals],
    }


class Demo:
    def __init__(self, secret: str, http: httpx.AsyncClient, trails: Trails, clock: Clock) -> None:
        self.auth = AuthSettings(secret=SecretStr(secret))
        self.clock = clock  # the services' demo clock, to know when an introduction has begun
        self.http = http
        self.trails = trails
        self.admin = self.bearer("demo-admin", Role.admin)
        self.service = self.bearer("demo-platform", Role.service, (RECIPIENTS_CONTACT,))
        self.gate = asyncio.Semaphore(6)
        self.matching_gate = asyncio.Semaphore(1)

    def bearer(self, subject: str, role: Role, scopes: tuple[str, ...] = ()) -> dict[str, str]:
        token = mint_token(self.auth, subject=subject, role=role, scopes=scopes)
        return {"Authorization": f"Bearer {token}"}

    @staticmethod
    def url(service: str, path: str) -> str:
        return f"http://127.0.0.1:{LAYOUT.ports[service]}/v1{path}"

    async def call(
        self, method: str, service: str, path: str, headers: dict[str, str], **kw: Any
    ) -> httpx.Response:
        # Matching records every directory change in one shared journal document, so its
        # admin writes go one at a time; the other services take several at once.
        gate = self.matching_gate if service == "matching" and method == "PUT" else self.gate
        async with gate:
            return await self.http.request(method, self.url(service, path), headers=headers, **kw)

    async def expect(self, method: str, service: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        for attempt in range(5):  # a PUT is idempotent: try again when the service was busy
            try:
                answer = await self.call(method, service, path, headers, **kw)
            except httpx.TransportError:
                if method != "PUT" or attempt == 4:
                    raise
                await asyncio.sleep(1.0 + attempt)
                continue
            if method != "PUT" or answer.status_code < 500 or attempt == 4:
                break
            await asyncio.sleep(1.0 + attempt)
        if answer.status_code >= 300:
            raise RuntimeError(f"{method} {service}{path}: {answer.status_code} {answer.text[:300]}")
        return answer.json()

    async def register(self, recipient_id: str, role: str, email: str, timezone: str) -> None:
        await self.expect(
            "PUT",
            "notifications",
            f"/recipients/{recipient_id}",
            self.service,
            json={"role": role, "email": email, "timezone": timezone},
        )

    async def seed_therapist(
        self, therapist_id: str, profile: dict[str, Any], availability: dict[str, Any]
    ) -> None:
        await self.expect("PUT", "matching", f"/therapists/{therapist_id}", self.admin, json=profile)
        await self.expect(
            "PUT", "scheduling", f"/therapists/{therapist_id}/availability", self.admin, json=availability
        )
        email = f"{therapist_id}@therapists.demo.carepath.local"
        await self.register(therapist_id, "therapist", email, profile["timezone"])

    async def walk(self, client: Client, progress: Progress, task: TaskID) -> None:
        """Take the client as far along WALK as the system goes; each step advances `task`."""
        client.started = time.monotonic()
        try:
            for step in (
                self.submit,
                self.proposed,
                self.accept,
                self.booked,
                self.held,
                self.plan,
                self.acknowledge,
                self.due,
                self.answer,
                self.done,
            ):
                if not await step(client):
                    break
                client.reached += 1
                progress.advance(task)
                if client.reached == len(WALK):
                    client.finished = time.monotonic()
        except (httpx.HTTPError, RuntimeError) as error:
            client.notes.append(f"{type(error).__name__}: {error}"[:200])
        progress.advance(task, len(WALK) - client.reached)  # what it did not reach counts as done

    async def submit(self, client: Client) -> bool:
        me = self.bearer(client.client_id, Role.client)
        await self.register(client.client_id, "client", client.email, client.sections["timezone"])
        draft = await self.expect(
            "POST", "intake", "/intakes", me, json={"client_id": client.client_id, **client.sections}
        )
        client.intake_id = draft["id"]
        submitted = await self.expect("POST", "intake", f"/intakes/{client.intake_id}/submit", me)
        if submitted.get("crisis_resources"):
            client.notes.append("crisis resources shown at submission")
        return True

    async def proposed(self, client: Client) -> bool:
        proposal = await self.trails.wait_for(client.intake_id, "match-proposed")
        if proposal is None or not proposal.data.get("candidates"):
            client.notes.append("no proposal with candidates: on the waitlist")
            return False
        client.match_id = proposal.data["match_id"]
        client.therapist_id = proposal.data["candidates"][0]["therapist_id"]
        return True

    async def accept(self, client: Client) -> bool:
        """The client chooses the best-ranked therapist (nothing is booked before this)."""
        me = self.bearer(client.client_id, Role.client)
        chosen = {"therapist_id": client.therapist_id}
        await self.expect("POST", "matching", f"/matches/{client.match_id}/accept", me, json=chosen)
        return await self.trails.wait_for(client.intake_id, "match-accepted") is not None

    async def booked(self, client: Client) -> bool:
        booked = await self.trails.wait_for(client.intake_id, "session-booked")
        if booked is None:
            client.notes.append("no introduction: the chosen therapist had no slot in the client's windows")
            return False
        client.therapist_id = booked.data["therapist_id"]
        client.introduction = booked.data
        return True

    async def held(self, client: Client) -> bool:
        """Once the introduction has begun (domain time), the therapist records it held."""
        assert client.introduction is not None and client.therapist_id is not None
        starts = datetime.fromisoformat(client.introduction["starts_at"])
        ahead = (starts - self.clock()).total_seconds() / speed_of(self.clock)  # real seconds
        await asyncio.sleep(min(max(ahead, 0.0) + 0.05, CHECK_IN_TIMEOUT))
        clinician = self.bearer(client.therapist_id, Role.clinician)
        session = client.introduction["session_id"]
        await self.expect(
            "POST", "scheduling", f"/sessions/{session}/attendance", clinician, json={"attendance": "held"}
        )
        return await self.trails.wait_for(client.intake_id, "session-attendance-recorded") is not None

    async def plan(self, client: Client) -> bool:
        """In care, the therapist writes the plan from the intake's goals: a check-in every day."""
        assert client.therapist_id is not None
        clinician = self.bearer(client.therapist_id, Role.clinician)
        path = f"/clients/{client.client_id}/treatment-plan"
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:  # intake learns the introduction was held moments after scheduling
            draft = await self.call("GET", "intake", f"{path}/draft", clinician)
            if draft.status_code == 200 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        if draft.status_code != 200:
            client.notes.append(f"no plan draft: {draft.status_code}")
            return False
        goals = [{"code": g["code"], "target": g["target"]} for g in draft.json()["goals"]]
        answer = await self.call("PUT", "intake", path, clinician, json={**PLAN, "goals": goals})
        if answer.status_code not in (200, 201):
            client.notes.append(f"plan refused: {answer.status_code}")
            return False
        return await self.trails.wait_for(client.intake_id, "treatment-plan-updated") is not None

    async def acknowledge(self, client: Client) -> bool:
        """The client reads the plan and acknowledges it; the therapist will see that."""
        me = self.bearer(client.client_id, Role.client)
        path = f"/clients/{client.client_id}/treatment-plan"
        current = await self.expect("GET", "intake", path, me)
        await self.expect(
            "POST", "intake", f"{path}/acknowledgement", me, json={"version": current["version"]}
        )
        return True

    async def due(self, client: Client) -> bool:
        """Scheduling's check-in timer fires one plan interval after the introduction."""
        if await self.trails.wait_for(client.intake_id, "check-in-due", timeout=CHECK_IN_TIMEOUT):
            return True
        client.notes.append(f"no check-in due within {CHECK_IN_TIMEOUT:.0f} s")
        return False

    async def answer(self, client: Client) -> bool:
        """The client answers the pending check-in through intake's API, as themselves."""
        me = self.bearer(client.client_id, Role.client)
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:  # intake creates it on check-in-due, moments later
            check_ins = await self.expect("GET", "intake", f"/clients/{client.client_id}/check-ins", me)
            if pending := [c for c in check_ins if c["status"] == "pending"]:
                first = pending[0]
                answers = check_in_answers(first.get("goals_to_rate", []))
                await self.expect("POST", "intake", f"/check-ins/{first['id']}/responses", me, json=answers)
                return True
            await asyncio.sleep(0.3)
        client.notes.append("intake showed no pending check-in")
        return False

    async def done(self, client: Client) -> bool:
        if await self.trails.wait_for(client.intake_id, "check-in-completed") is None:
            return False
        await self.review(client)
        return True

    async def review(self, client: Client) -> None:
        """The clinician reviews the plan after the check-in: check-ins every two weeks now.

        Besides being what a review after a good first check-in looks like, it spares a
        busy machine a check-in per client every 8.6 s for the rest of the demo.
        """
        assert client.therapist_id is not None
        clinician = self.bearer(client.therapist_id, Role.clinician)
        path = f"/clients/{client.client_id}/treatment-plan"
        current = await self.expect("GET", "intake", path, clinician)
        goals = [{"code": g["code"], "target": g["target"]} for g in current["goals"]]
        plan = {**PLAN, "goals": goals, "check_in_interval_days": 14}
        answer = await self.call("PUT", "intake", path, clinician, json=plan)
        if answer.status_code not in (200, 201):
            client.notes.append(f"plan review refused: {answer.status_code}")


async def settle(trails: Trails, clients: list[Client], progress: Progress) -> None:
    """Notifications works through its backlog last: wait until no delivery came for 3 s (30 s at most)."""
    task = progress.add_task("notifications catching up", total=None)
    journeys = [c.intake_id for c in clients if c.intake_id]

    def delivered() -> int:
        return sum(1 for j in journeys for s in trails.of(j) if s.event.startswith("notification-"))

    seen, quiet_since, deadline = delivered(), time.monotonic(), time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline and time.monotonic() - quiet_since < 3.0:
        await asyncio.sleep(0.5)
        if (now := delivered()) != seen:
            seen, quiet_since = now, time.monotonic()
            progress.update(task, completed=seen)
    progress.update(task, total=seen, completed=seen)


# ---------------------------------------------------------------- the demo's own services


def refuse_taken_ports() -> None:
    taken = []
    for port in [*LAYOUT.ports.values(), LAYOUT.smtp_port, LAYOUT.provider_port]:
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                taken.append(port)
    if taken:
        say_and_exit(
            f"Port(s) {', '.join(map(str, taken))} are taken: is another `make demo` running? "
            "The demo runs its own services there (`make run` on 8001–8004 may keep running)."
        )


def empty_demo_databases(mongodb_uri: str) -> dict[str, str]:
    """Each service's demo database, dropped so that every run starts from nothing."""
    names = {name: f"carepath_demo_{name}" for name in LAYOUT.ports}
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_uri, serverSelectionTimeoutMS=10_000)
    try:
        for database in names.values():
            client.drop_database(database)
    finally:
        client.close()
    return names


def demo_environment(
    infrastructure: dict[str, str], prefix: str, speed: str, epoch: datetime
) -> dict[str, str]:
    env = {**os.environ, **infrastructure}
    env.update(
        LOG_FORMAT="console",
        KAFKA_TOPIC_PREFIX=prefix,
        DEMO_CLOCK_SPEED=speed,
        DEMO_CLOCK_EPOCH=epoch.isoformat(),
    )
    for name, database in empty_demo_databases(infrastructure["MONGODB_URI"]).items():
        env[f"{name.upper()}_MONGODB_DATABASE"] = database
        # Timers are polled in real time: 0.1 s is about 17 domain minutes at 10000x.
        env[f"{name.upper()}_TIMER_POLL_INTERVAL_SECONDS"] = "0.1"
    return env


async def until_ready(
    http: httpx.AsyncClient, children: Mapping[str, subprocess.Popen[str]], progress: Progress
) -> None:
    task = progress.add_task("demo services ready (DEMO_CLOCK_* set)", total=len(LAYOUT.ports))
    waiting = dict(LAYOUT.ports)
    deadline = time.monotonic() + START_TIMEOUT
    while waiting and time.monotonic() < deadline:
        for name, port in list(waiting.items()):
            if children[name].poll() is not None:
                raise SystemExit(f"{name} exited at start; its log: {LOG_DIR / (name + '.log')}")
            with suppress(httpx.TransportError):
                if (await http.get(f"http://127.0.0.1:{port}/readyz", timeout=2)).status_code == 200:
                    del waiting[name]
                    progress.advance(task)
        await asyncio.sleep(0.3)
    if waiting:
        raise SystemExit(f"not ready within {START_TIMEOUT:.0f} s: {', '.join(waiting)} (logs in {LOG_DIR})")


async def drop_topics(bootstrap: str, prefix: str) -> None:
    """The demo's topics (and their dead-letter topics) go; a local broker's heap is finite."""
    admin = AIOKafkaAdminClient(**kafka_options_at(bootstrap))
    try:
        await admin.start()
        doomed = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
    except Exception as exc:
        console.print(f"[dim]could not delete the demo's topics {prefix}*: {exc!r}[/]")
    finally:
        with suppress(Exception):
            await admin.close()


# ---------------------------------------------------------------- what is printed


def mails_for(address: str) -> list[str]:
    if not MAIL_DIR.is_dir():
        return []
    found = []
    for path in sorted(MAIL_DIR.glob("*.eml")):
        head = path.read_bytes()[:4000].decode(errors="replace")
        if address in head:
            found.append(path.name)
    return found


def trail_table(client: Client, steps: list[Step], epoch: float) -> Table:
    """The client's events in order, each followed by the notifications it caused."""
    title = f"{client.client_id}  ·  correlation id [bold]{client.intake_id}[/]"
    if client.high_risk:
        title += "  ·  [bold red]high risk[/]"
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("domain time (UTC)", style="dim", no_wrap=True)
    table.add_column("real s", justify="right", style="dim")  # since the walk began
    table.add_column("event", style="cyan", no_wrap=True)
    table.add_column("service", style="magenta")
    table.add_column("detail")
    deliveries = [s for s in steps if s.event in ("notification-delivered", "notification-failed")]
    caused: dict[str, list[Step]] = {}
    for delivery in deliveries:
        caused.setdefault(str(delivery.data.get("cause_event_id")), []).append(delivery)
    shown: set[str] = set()
    for step in steps:
        if step in deliveries:
            continue
        table.add_row(
            step.at.strftime("%a %d %b %H:%M"),
            f"{step.real - epoch:.1f}",
            step.event,
            step.service,
            detail(step),
        )
        for delivery in caused.get(step.id, []):
            shown.add(delivery.id)
            table.add_row(*delivery_row(delivery, epoch))
    for delivery in deliveries:  # caused by an event of another journey, or not read yet
        if delivery.id not in shown:
            table.add_row(*delivery_row(delivery, epoch))
    mails = mails_for(client.email)
    table.caption = f"{client.outcome}; {len(mails)} e-mails to {client.email}" + (
        f"; {'; '.join(client.notes)}" if client.notes else ""
    )
    table.caption_justify = "left"
    return table


def delivery_row(step: Step, epoch: float) -> tuple[str, ...]:
    d = step.data
    who = d.get("recipient_id", "?")
    outcome = "" if step.event == "notification-delivered" else f" [red]failed: {d.get('reason')}[/]"
    return (
        step.at.strftime("%a %d %b %H:%M"),
        f"{step.real - epoch:.1f}",
        "  └ [green]" + step.event.removeprefix("notification-") + "[/]",
        "[dim]notifications[/]",
        f"[dim]{d.get('kind')} → {who} by {d.get('channel')}[/]{outcome}",
    )


def detail(step: Step) -> str:
    d = step.data
    match step.event:
        case "intake-completed":
            scores = f"PHQ-9 {d['phq9']['total']}, GAD-7 {d['gad7']['total']}"
            return f"risk {d.get('risk_level')}, {scores}, {d['jurisdiction']}"
        case "risk-flagged":
            return f"{d.get('risk_level')}: {', '.join(d.get('reasons', []))}"
        case "match-proposed":
            names = [c["therapist_id"] for c in d.get("candidates", [])]
            return f"{len(names)} candidates: {', '.join(names)}" if names else "no candidate yet"
        case "match-accepted":
            return f"chose {d['therapist_id']}"
        case "session-booked":
            starts = datetime.fromisoformat(d["starts_at"]).strftime("%a %d %b %H:%M")
            return f"#{d['sequence']} {d.get('kind') or ''} with {d['therapist_id']} at {starts}"
        case "session-attendance-recorded":
            return f"#{d['sequence']} {d['kind']}: {d['attendance']}"
        case "treatment-plan-updated":
            every = f"check-in every {d['check_in_interval_days']} d"
            return f"v{d['version']} {d['approach']}, {d['session_cadence']}, {every}"
        case "check-in-due":
            return f"{d['check_in_id']}: {', '.join(d.get('instruments', []))}"
        case "check-in-completed":
            change = d.get("change", {})
            return (
                f"PHQ-9 {d['phq9']['total']} ({change.get('phq9_delta'):+d}), "
                f"GAD-7 {d['gad7']['total']} ({change.get('gad7_delta'):+d})"
                + (", plan review suggested" if d.get("plan_review_suggested") else "")
            )
        case "booking-failed":
            return str(d.get("reason", ""))
        case _:
            return ""


def summary(clients: list[Client], trails: Trails, timings: dict[str, float], speed: str) -> Panel:
    completed = [c for c in clients if c.finished is not None]
    walks = sorted(c.finished - c.started for c in completed if c.finished is not None)
    pages = sum(len(mails_for(f"{on_call}@clinic.demo.carepath.local")) for on_call in ON_CALL)
    reminders = sum(
        1
        for c in clients
        for s in trails.of(c.intake_id)
        if s.event == "notification-delivered" and s.data.get("kind") == "session_reminder"
    )
    reached = ", ".join(f"{sum(1 for c in clients if c.reached > n)} {name}" for n, name in enumerate(WALK))
    slowest = f"{walks[len(walks) // 2]:.0f} s median, {walks[-1]:.0f} s slowest" if walks else "none"
    return Panel(
        f"{THERAPISTS} therapists seeded (seed {SEED}) in {timings['seeding']:.0f} s; {CLIENTS} clients "
        f"walked in {timings['walk']:.0f} s on a clock {speed}x real time "
        f"(services ready in {timings['start']:.0f} s).\n"
        f"Reached: {reached}.\n"
        f"Intake submitted → check-in completed: {slowest} (real time); "
        f"{reminders} session reminders delivered.\n"
        f"E-mails: {MAIL_DIR}/*.eml (the .ics opens in a calendar); on-call pages to "
        f"{' / '.join(ON_CALL)}: {pages}. Service logs: {LOG_DIR}/.",
        title="carepath demo",
        border_style="green" if len(completed) == len(clients) else "yellow",
    )


console = Console()


def say_and_exit(message: str) -> None:
    console.print(Panel(message, title="carepath demo", border_style="red"))
    sys.exit(1)


# ---------------------------------------------------------------- main


async def run(env: dict[str, str], children: Mapping[str, subprocess.Popen[str]], speed: str) -> None:
    secret = env["JWT_SECRET"]
    rng = random.Random(SEED)  # noqa: S311 - synthetic data from a fixed seed
    run_id = env["KAFKA_TOPIC_PREFIX"].removeprefix("carepath-demo-").rstrip(".")
    clients = [
        Client(
            f"demo-{run_id}-client-{n:02d}",
            intake_sections(rng, high_risk=n == HIGH_RISK_CLIENT),
            n == HIGH_RISK_CLIENT,
        )
        for n in range(CLIENTS)
    ]
    directory = [
        (f"demo-therapist-{n:03d}", *therapist_profile(random.Random(SEED * 1000 + n)))  # noqa: S311
        for n in range(THERAPISTS)
    ]
    trails = Trails(env["KAFKA_BOOTSTRAP_SERVERS"], env["KAFKA_TOPIC_PREFIX"])
    timings: dict[str, float] = {}
    began = time.monotonic()
    async with httpx.AsyncClient(timeout=30) as http:
        demo = Demo(secret, http, trails, clock_of(env))
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            await until_ready(http, children, progress)
            timings["start"] = time.monotonic() - began
            await trails.start()
            try:
                seeding = progress.add_task(
                    "therapists seeded (matching, scheduling, notifications)", total=THERAPISTS
                )
                started = time.monotonic()

                async def seed(one: tuple[str, dict[str, Any], dict[str, Any]]) -> None:
                    await demo.seed_therapist(*one)
                    progress.advance(seeding)

                await asyncio.gather(*(seed(one) for one in directory))
                for on_call in ON_CALL:
                    await demo.register(on_call, "on_call", f"{on_call}@clinic.demo.carepath.local", "UTC")
                timings["seeding"] = time.monotonic() - started
                walking = progress.add_task("clients: " + " → ".join(WALK), total=CLIENTS * len(WALK))
                started, walk_began = time.monotonic(), time.time()
                await asyncio.gather(*(demo.walk(client, progress, walking) for client in clients))
                timings["walk"] = time.monotonic() - started
                await settle(trails, clients, progress)
            finally:
                await trails.stop()
    for client in clients:
        console.print(trail_table(client, trails.of(client.intake_id), walk_began))
        console.print()
    console.print(summary(clients, trails, timings, speed))


def clock_of(env: Mapping[str, str]) -> Clock:
    """The demo clock the services run on, read the same way they read it."""
    settings = ClockSettings.model_validate(
        {"speed": env["DEMO_CLOCK_SPEED"], "epoch": env["DEMO_CLOCK_EPOCH"]}
    )
    return build_clock(settings)


def interrupted(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM as Ctrl-C: the services are stopped on the way out


def main() -> None:
    signal.signal(signal.SIGTERM, interrupted)
    if not os.environ.get("JWT_SECRET"):
        say_and_exit("JWT_SECRET is not set; `make demo` exports the development secret.")
    refuse_taken_ports()
    speed = os.environ.get("DEMO_CLOCK_SPEED", DEFAULT_SPEED)
    console.print(f"[bold]carepath demo[/]: finding Kafka and MongoDB, then its own services at {speed}x")
    infrastructure = infrastructure_env(lambda message: console.print(f"[dim]{message}[/]"))
    prefix = f"carepath-demo-{uuid.uuid4().hex[:6]}."
    epoch = datetime.now(UTC)
    env = demo_environment(infrastructure, prefix, speed, epoch)
    shutil.rmtree(LAYOUT.sink_dir, ignore_errors=True)
    children = start_all(
        env,
        LAYOUT,
        existing_services(),
        log_dir=LOG_DIR,
        announce=lambda message: console.print(f"[dim]{message}[/]"),
    )
    try:
        asyncio.run(run(env, children, speed))
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
    finally:
        with console.status("stopping the demo's services (they drain and commit)"):
            stop_all(children)
            asyncio.run(drop_topics(env["KAFKA_BOOTSTRAP_SERVERS"], prefix))


if __name__ == "__main__":
    main()
