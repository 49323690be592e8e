"""`make demo`: seed a synthetic directory and walk sample clients through the journey.

Expects `make run` in another terminal (the four services on 8001–8004 and the local mail
sink). From a fixed seed it puts a few hundred therapists (jurisdictions, languages,
approaches, prices, availability) through matching's and scheduling's admin APIs, registers
everyone with notifications, then walks two dozen sample clients (one of them high-risk)
through intake → proposal → first session → treatment plan, and prints each client's event
trail (type, time, service) under its correlation id, read back from Kafka, and where the
e-mails went.

What it cannot show within a minute, and why (no event is faked): the first check-in falls
due one plan interval after the introduction, the introduction is at least 24 h ahead (the
booking notice), and a plan's `check_in_interval_days` is at least 1 (intake and scheduling
both refuse less); scheduling has no demo clock. So the trail ends with the check-in
scheduled (its due time, from scheduling), not answered.

Run as `python -m deploy.local.demo` from the repository root; `JWT_SECRET` comes from the
environment (the Makefile exports the development one `make run` uses), Kafka from
`KAFKA_BOOTSTRAP_SERVERS` (default 127.0.0.1:9092) and `KAFKA_TOPIC_PREFIX` (default none).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from pydantic import SecretStr
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shared.http.auth import Role, mint_token
from shared.settings import AuthSettings

SEED = 20261128
THERAPISTS = 300
CLIENTS = 24
HIGH_RISK_CLIENT = 7  # the eighth client screens positive, high risk
PORTS = {"intake": 8001, "matching": 8002, "scheduling": 8003, "notifications": 8004}
ON_CALL = ("oncall-1", "oncall-2")  # `make run`'s rota (deploy/local/run_services.py)
MAIL_DIR = Path(__file__).resolve().parents[2] / ".local" / "notifications" / "mail"
STEP_TIMEOUT = 60.0
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
    "treatment-plan-updated",
    "check-in-due",
    "check-in-completed",
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

console = Console()


def say_and_exit(message: str) -> None:
    console.print(Panel(message, title="carepath demo", border_style="red"))
    sys.exit(1)


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
    at: datetime
    event: str
    service: str
    data: dict[str, Any]


@dataclass
class Trails:
    """Every event of the services' topics, grouped by correlation id, read in the background."""

    bootstrap: str
    prefix: str
    by_journey: dict[str, list[Step]] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            *(self.prefix + name for name in EVENTS),
            bootstrap_servers=self.bootstrap,
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
                        at=datetime.fromisoformat(headers.get("ce_time", "").replace("Z", "+00:00")),
                        event=record.topic.removeprefix(self.prefix),
                        service=headers.get("ce_source", "").rsplit("/", 1)[-1],
                        data=json.loads(record.value),
                    )
                    self.by_journey.setdefault(journey, []).append(step)

    def of(self, journey: str) -> list[Step]:
        return sorted(self.by_journey.get(journey, []), key=lambda s: s.at)

    async def wait_for(self, journey: str, *events: str, timeout: float = STEP_TIMEOUT) -> Step | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for step in self.of(journey):
                if step.event in events:
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
    outcome: str = "started"
    therapist_id: str | None = None
    check_in_due: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def email(self) -> str:
        return f"{self.client_id}@clients.demo.carepath.local"


class Demo:
    def __init__(self, secret: str, http: httpx.AsyncClient, trails: Trails) -> None:
        self.auth = AuthSettings(secret=SecretStr(secret))
        self.http = http
        self.trails = trails
        self.admin = self.bearer("demo-admin", Role.admin)
        self.service = self.bearer("demo-platform", Role.service)
        self.gate = asyncio.Semaphore(6)
        self.matching_gate = asyncio.Semaphore(1)

    def bearer(self, subject: str, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(self.auth, subject=subject, role=role)}"}

    @staticmethod
    def url(service: str, path: str) -> str:
        return f"http://127.0.0.1:{PORTS[service]}/v1{path}"

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

    async def walk(self, client: Client, progress: Progress, task: Any) -> None:
        me = self.bearer(client.client_id, Role.client)
        await self.register(client.client_id, "client", client.email, client.sections["timezone"])
        draft = await self.expect(
            "POST", "intake", "/intakes", me, json={"client_id": client.client_id, **client.sections}
        )
        client.intake_id = draft["id"]
        submitted = await self.expect("POST", "intake", f"/intakes/{client.intake_id}/submit", me)
        if submitted.get("crisis_resources"):
            client.notes.append("crisis resources shown at submission")
        progress.advance(task)

        booked = await self.trails.wait_for(client.intake_id, "session-booked")
        progress.advance(task)
        if booked is None:
            client.outcome = "no first session yet"
            progress.advance(task, 2)
            return
        client.therapist_id = booked.data["therapist_id"]
        client.outcome = "first session booked"

        clinician = self.bearer(client.therapist_id, Role.clinician)
        plan = {
            "approach": "cbt",
            "goals": [
                {"code": "feel_better", "target": {"measure": "phq9", "comparison": "below", "value": 5}}
            ],
            "session_cadence": "weekly",
            "check_in_interval_days": 1,  # the shortest a plan may ask for
        }
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:  # intake learns the clinician from session-booked, moments after scheduling
            answer = await self.call(
                "PUT", "intake", f"/clients/{client.client_id}/treatment-plan", clinician, json=plan
            )
            if answer.status_code in (200, 201) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        progress.advance(task)
        if answer.status_code not in (200, 201):
            client.notes.append(f"plan refused: {answer.status_code}")
            progress.advance(task)
            return
        if await self.trails.wait_for(client.intake_id, "treatment-plan-updated"):
            client.outcome = "in care, plan active"
        for _ in range(40):  # scheduling follows the plan: the check-in moves to its interval
            care = await self.expect("GET", "scheduling", f"/clients/{client.client_id}/sessions", self.admin)
            check_ins = care.get("check_ins") or {}
            if check_ins.get("interval_days") == 1:
                client.check_in_due = check_ins.get("next_due_at")
                break
            await asyncio.sleep(0.5)
        progress.advance(task)


def mails_for(address: str) -> list[str]:
    if not MAIL_DIR.is_dir():
        return []
    found = []
    for path in sorted(MAIL_DIR.glob("*.eml")):
        head = path.read_bytes()[:4000].decode(errors="replace")
        if address in head:
            found.append(path.name)
    return found


def trail_table(client: Client, steps: list[Step]) -> Table:
    title = f"{client.client_id}  ·  correlation id {client.intake_id}"
    if client.high_risk:
        title += "  ·  [bold red]high risk[/]"
    table = Table(title=title, title_justify="left", expand=False, show_lines=False)
    table.add_column("+s", justify="right", style="dim")
    table.add_column("event", style="cyan")
    table.add_column("service", style="magenta")
    table.add_column("detail")
    start = steps[0].at if steps else None
    folded: dict[str, int] = {}
    for step in steps:
        if step.event == "notification-delivered":
            channel = step.data.get("channel", "?")
            folded[channel] = folded.get(channel, 0) + 1
            continue
        offset = f"{(step.at - start).total_seconds():.1f}" if start else ""
        table.add_row(offset, step.event, step.service, detail(step))
    if folded:
        counts = ", ".join(f"{n} by {channel}" for channel, n in sorted(folded.items()))
        table.add_row("", "notification-delivered", "notifications", counts)
    if client.check_in_due:
        table.add_row(
            "", "[dim]check-in-due[/]", "[dim]scheduling[/]", f"[dim]timer set for {client.check_in_due}[/]"
        )
    mails = mails_for(client.email)
    table.caption = f"{client.outcome}; e-mails to {client.email}: {len(mails)} in {MAIL_DIR}" + (
        f"; {'; '.join(client.notes)}" if client.notes else ""
    )
    table.caption_justify = "left"
    return table


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
        case "session-booked":
            return f"#{d['sequence']} with {d['therapist_id']} at {d['starts_at']}"
        case "treatment-plan-updated":
            every = f"check-in every {d['check_in_interval_days']} d"
            return f"v{d['version']} {d['approach']}, {d['session_cadence']}, {every}"
        case "booking-failed":
            return str(d.get("reason", ""))
        case _:
            return ""


async def preflight(http: httpx.AsyncClient) -> None:
    down = []
    for name, port in PORTS.items():
        try:
            ready = (await http.get(f"http://127.0.0.1:{port}/readyz", timeout=3)).status_code == 200
        except httpx.TransportError:
            ready = False
        if not ready:
            down.append(f"{name} (http://127.0.0.1:{port}/readyz)")
    if down:
        say_and_exit(
            "Carepath is not running (or not ready): " + ", ".join(down) + ".\n"
            "Start it with [bold]make run[/] in another terminal, wait for the four services, then run "
            "[bold]make demo[/] again."
        )


async def main() -> None:
    secret = os.environ.get("JWT_SECRET", "")
    if not secret:
        say_and_exit(
            "JWT_SECRET is not set; `make demo` exports the development secret that `make run` uses."
        )
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    prefix = os.environ.get("KAFKA_TOPIC_PREFIX", "")
    rng = random.Random(SEED)  # noqa: S311 - synthetic data from a fixed seed
    run = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(timeout=30) as http:
        await preflight(http)
        trails = Trails(bootstrap, prefix)
        await trails.start()
        demo = Demo(secret, http, trails)
        clients = [
            Client(
                f"demo-{run}-client-{n:02d}",
                intake_sections(rng, high_risk=n == HIGH_RISK_CLIENT),
                n == HIGH_RISK_CLIENT,
            )
            for n in range(CLIENTS)
        ]
        directory = [
            (f"demo-therapist-{n:03d}", *therapist_profile(random.Random(SEED * 1000 + n)))  # noqa: S311
            for n in range(THERAPISTS)
        ]
        started = time.monotonic()
        try:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                seeding = progress.add_task(
                    "therapists seeded (matching, scheduling, notifications)", total=THERAPISTS
                )

                async def seed(one: tuple[str, dict[str, Any], dict[str, Any]]) -> None:
                    await demo.seed_therapist(*one)
                    progress.advance(seeding)

                await asyncio.gather(*(seed(one) for one in directory))
                for on_call in ON_CALL:
                    await demo.register(on_call, "on_call", f"{on_call}@clinic.demo.carepath.local", "UTC")
                walking = progress.add_task("clients: intake → proposal → session → plan", total=CLIENTS * 4)
                await asyncio.gather(*(demo.walk(client, progress, walking) for client in clients))
            # Notifications works through its backlog last: wait (a while) for every booked
            # client's invitation before reading the trails and the mail folder.
            for _ in range(60):
                if all(mails_for(c.email) for c in clients if c.therapist_id):
                    break
                await asyncio.sleep(1.0)
            await asyncio.sleep(2.0)
        finally:
            await trails.stop()

    for client in clients:
        console.print(trail_table(client, trails.of(client.intake_id)))
        console.print()
    booked = sum(1 for c in clients if c.therapist_id)
    in_care = sum(1 for c in clients if c.outcome == "in care, plan active")
    pages = mails_for(f"{ON_CALL[0]}@clinic.demo.carepath.local")
    console.print(
        Panel(
            f"{THERAPISTS} therapists seeded (seed {SEED}); {CLIENTS} clients walked in "
            f"{time.monotonic() - started:.0f} s: {booked} first sessions booked, "
            f"{in_care} with an active plan.\n"
            f"E-mails: {MAIL_DIR}/*.eml (the .ics opens in a calendar); "
            f"on-call pages to {ON_CALL[0]}: {len(pages)}.\n"
            "Check-ins: the first one falls due one plan interval (1 day at least) after the "
            "introduction, which is 24 h ahead at least; scheduling has no demo clock, so each trail "
            "ends with the check-in timer set (its due time above); check-in-due → answered → "
            "check-in-completed follow then.",
            title="carepath demo",
            border_style="green",
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
