"""The four services as real processes (`python -m services.<name>`), wired to each other.

By default the suite starts the system itself: `running_system` starts intake, matching,
scheduling and notifications on one topic prefix (so they talk to each other), each on its
own free port and its own database, plus a real SMTP server (aiosmtpd with notifications'
own `MailSink`) that notifications sends to. The processes start together and are awaited
on `/readyz`; their output goes to log files, whose tails are shown when one fails to start.

With `JOURNEY_SYSTEM=external` the suite tests a system already running elsewhere (the
docker compose stack) instead; `external.py` describes it as the same `System`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

import httpx
from aiokafka.structs import ConsumerRecord
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from deploy.local.launcher import kafka_users
from deploy.local.sinks import MailSink
from shared.clock import ClockSettings, build_clock, utc_now
from shared.http.auth import Role, mint_token
from shared.http.scopes import RECIPIENTS_CONTACT, RECIPIENTS_WRITE
from shared.messaging.kafka_grants import grant_service_access_now, revoke_service_access_now
from shared.ports import Clock
from shared.settings import AuthSettings, KafkaSettings
from tests.support.infrastructure import REPO, Infrastructure, free_port
from tests.support.kafka import TopicRecorder, isolated

JOURNEY_SYSTEM = os.environ.get("JOURNEY_SYSTEM", "")
"""Unset: the suite starts the services itself. `external`: they run elsewhere (external.py)."""
if JOURNEY_SYSTEM not in ("", "external"):
    raise RuntimeError(f"JOURNEY_SYSTEM={JOURNEY_SYSTEM!r}: leave it unset, or set it to 'external'")
EXTERNAL = JOURNEY_SYSTEM == "external"


def _secret() -> str:
    """What the suite's tokens are signed with: its own secret, or the one the running services verify."""
    if not EXTERNAL:
        return "journey-e2e-secret-long-enough-for-hs256-signatures"
    secret = os.environ.get("JWT_SECRET", "")
    if not secret:
        raise RuntimeError("JOURNEY_SYSTEM=external needs JWT_SECRET, the running services' HS256 secret")
    return secret


SECRET = _secret()
SERVICES = ("intake", "matching", "scheduling", "notifications")
START_TIMEOUT = 150.0


def bearer(subject: str, role: Role, scopes: tuple[str, ...] = ()) -> dict[str, str]:
    token = mint_token(AuthSettings(secret=SecretStr(SECRET)), subject=subject, role=role, scopes=scopes)
    return {"Authorization": f"Bearer {token}"}


ADMIN = bearer("journey-admin", Role.admin)
SERVICE = bearer("journey-platform", Role.service, (RECIPIENTS_CONTACT, RECIPIENTS_WRITE))


@dataclass
class Process:
    """One service process; stopped and started again on the same port and settings."""

    name: str
    popen: subprocess.Popen[bytes]
    base: str
    log: Path
    env: dict[str, str]
    replica: int = 0
    incarnation: int = 0
    # Polls of `ready` that found it not ready, by the failing check (or "not answering").
    not_ready_because: dict[str, int] = field(default_factory=dict)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def complaints(self, lines: int = 40) -> str:
        """The last warnings and errors of its log (with any traceback's lines)."""
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        marks = ('"level": "warning"', '"level": "error"', '"level": "critical"', "[warning", "[error")
        keep = [
            line for line in text if any(mark in line for mark in marks) or not line.startswith(("{", "20"))
        ]
        return "\n".join(keep[-lines:]) or "(none)"

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    @property
    def label(self) -> str:
        return f"{self.name}-{self.replica}"

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish, commit or leave its consumer group."""
        if self.alive:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()

    def terminate(self, timeout: float = 90.0) -> float:
        """SIGTERM, then wait for the process to drain and exit; returns how long that took."""
        started = time.monotonic()
        if self.alive:
            self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.label} did not exit within {timeout} s of SIGTERM:\n{self.tail()}"
            ) from None
        return time.monotonic() - started

    def restart(self) -> None:
        """Start the service again with the same settings and port (the old process must be gone)."""
        assert not self.alive, f"{self.label} is still running"
        with self.log.open("ab") as output:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                cwd=REPO,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.incarnation += 1

    @property
    def metrics_url(self) -> str:
        """Where this process serves Prometheus metrics: a port of its own, kept across restarts."""
        return f"http://127.0.0.1:{self.env[f'{self.name.upper()}_METRICS_PORT']}/metrics"

    def ready(self) -> bool:
        try:
            answer = httpx.get(f"{self.base}/readyz", timeout=2)
        except httpx.TransportError as error:
            # Refused: not listening yet (starting); a timeout: listening, but slower than 2 s.
            why = "no answer in 2 s" if isinstance(error, httpx.TimeoutException) else "not listening"
            self.not_ready_because[why] = self.not_ready_because.get(why, 0) + 1
            return False
        if answer.status_code != 200:
            for check, state in (answer.json().get("checks") or {}).items():
                if state != "ok":
                    self.not_ready_because[check] = self.not_ready_because.get(check, 0) + 1
        return answer.status_code == 200


class Mailbox(Protocol):
    """What notifications mailed: the suite's own SMTP sink (`MailSink`), or the stack's .eml folder."""

    @property
    def messages(self) -> Sequence[EmailMessage]: ...


@dataclass
class System:
    """The running system: where each service answers, what was mailed, the shared topic prefix.

    `bases` is where each service answers (`url` appends `/v1...`). When the suite started
    the system, `processes` holds each service's first replica (at `bases`), `replicas` all
    of them and `databases` their databases; a system running elsewhere has none of these.
    """

    kafka: KafkaSettings
    bases: dict[str, str]
    mail: Mailbox
    rota: list[str]
    processes: dict[str, Process] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)
    recorder: Recorder | None = None
    replicas: dict[str, list[Process]] = field(default_factory=dict)
    clock: Clock = utc_now
    """The services' domain clock (the demo clock when `DEMO_CLOCK_SPEED` is set for them)."""

    def url(self, service: str, path: str) -> str:
        return f"{self.bases[service]}/v1{path}"

    def all_processes(self) -> list[Process]:
        return [p for group in self.replicas.values() for p in group] or list(self.processes.values())

    def mails_to(self, address: str) -> list[EmailMessage]:
        return [m for m in list(self.mail.messages) if address in str(m["To"])]

    async def records(
        self, event: str, key: str, *, expect: int = 1, settle: float = 0.0, timeout: float = 30.0
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """The records on `event`'s topic keyed by `key`, in the order they were read.

        Waits until `expect` of them arrived (failing after `timeout`), then `settle` seconds
        more, so "exactly one" is checked after a duplicate would have had time to show up.
        """
        assert self.recorder is not None
        return await self.recorder.wait_for(
            self.kafka.topic(event), key, expect, timeout=timeout, settle=settle
        )


class Recorder(TopicRecorder):
    """Every record on the system's topics, read from the start by one consumer in the background.

    Records are also kept by topic and key: a shared stack's topics hold every earlier run's
    records too, and tests look theirs up many times a second.
    """

    def __init__(self, kafka: KafkaSettings, events: Iterable[str]) -> None:
        super().__init__(kafka, events)
        self._by_key: defaultdict[tuple[str, bytes | None], list[ConsumerRecord[bytes, bytes]]] = defaultdict(
            list
        )

    def _take(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        super()._take(records)
        for record in records:
            self._by_key[(record.topic, record.key)].append(record)

    def of(self, topic: str, key: str) -> list[ConsumerRecord[bytes, bytes]]:
        return list(self._by_key.get((topic, key.encode()), ()))

    async def wait_for(
        self, topic: str, key: str, count: int, *, timeout: float, settle: float
    ) -> list[ConsumerRecord[bytes, bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.of(topic, key)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{count} record(s) on {topic} for {key} not read within {timeout} s "
                    f"(found {len(self.of(topic, key))})"
                )
            await asyncio.sleep(0.05)
        await asyncio.sleep(settle)
        return self.of(topic, key)


def headers_of(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    return {key: value.decode() for key, value in record.headers}


def value_of(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(record.value)
    return loaded


def described(records: Iterable[ConsumerRecord[bytes, bytes]]) -> list[str]:
    """Records as a failed count shows them: where each was read, its event and causing event's
    ids, and the ids and times of its value (a duplicate and a second effect look different)."""
    shown = []
    for record in records:
        headers, value = headers_of(record), value_of(record)
        ids = {k: v for k, v in value.items() if k.endswith(("_id", "_at", "_by")) and k != "client_id"}
        shown.append(
            f"{record.partition}@{record.offset} ce_id={headers.get('ce_id')} "
            f"causation_id={headers.get('causation_id')} {ids}"
        )
    return shown


def _environment(
    infra: Infrastructure, kafka: KafkaSettings, name: str, replica: int, port: int, database: str, key: str
) -> dict[str, str]:
    prefix = name.upper()
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        # Static group membership: a replica restarted (`Process.restart`, same env) rejoins its
        # groups under the same name and is handed its partitions at once. Unique per run (the
        # groups carry the run's topic prefix); `extra_env` may set it empty for dynamic members.
        "KAFKA_GROUP_INSTANCE_ID": f"{name}-{replica}",
        "MONGODB_URI": infra.mongodb_uri,
        "JWT_SECRET": SECRET,
        "LOG_LEVEL": "WARNING",
        "FIELD_ENCRYPTION_KEYS": f"k1:{key}",
        "FIELD_ENCRYPTION_ACTIVE_KEY": "k1",
        f"{prefix}_HTTP_HOST": "127.0.0.1",
        f"{prefix}_HTTP_PORT": str(port),
        f"{prefix}_METRICS_PORT": str(free_port()),
        f"{prefix}_MONGODB_DATABASE": database,
        f"{prefix}_CONSUMERS_PER_TOPIC": "1",
        f"{prefix}_RELAY_POLL_INTERVAL_SECONDS": "0.1",
        # A poll looks at the timers the replica remembers (no query), so it can be frequent.
        f"{prefix}_TIMER_POLL_INTERVAL_SECONDS": "0.2",
        f"{prefix}_RETRY_INITIAL_BACKOFF_SECONDS": "0.05",
        f"{prefix}_RETRY_MAX_BACKOFF_SECONDS": "0.5",
    }


def clock_of(env: Mapping[str, str]) -> Clock:
    """The clock the services run on, so a test reads domain time as they do."""
    if "DEMO_CLOCK_SPEED" not in env:
        return utc_now
    return build_clock(
        ClockSettings.model_validate({"speed": env["DEMO_CLOCK_SPEED"], "epoch": env.get("DEMO_CLOCK_EPOCH")})
    )


def _start(name: str, env: dict[str, str], base: str, log: Path, replica: int = 0) -> Process:
    with log.open("ab") as output:
        popen = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Process(name, popen, base, log, env, replica)


def _wait_until_ready(process: Process, deadline: float) -> Process:
    """Wait for `/readyz`; a process that exits during start-up is started once more.

    On a loaded machine the broker sometimes answers a new client's bootstrap too late and
    the service exits (it refuses to run without Kafka); a second start is what an
    operator's supervisor would do.
    """
    restarts = 1
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            if restarts == 0:
                code = process.popen.returncode
                raise AssertionError(
                    f"{process.name} exited during start-up (code {code}):\n{process.tail()}"
                )
            restarts -= 1
            process.restart()
        if process.ready():
            return process
        time.sleep(0.2)
    raise AssertionError(f"{process.name} never became ready:\n{process.tail()}")


def wait_until_ready(process: Process, timeout: float = START_TIMEOUT) -> Process:
    """`/readyz` answers 200 (a process that exits while starting is started once more)."""
    return _wait_until_ready(process, time.monotonic() + timeout)


@contextmanager
def running_system(
    infra: Infrastructure,
    logs: Path,
    *,
    replicas: int = 1,
    mail: MailSink | None = None,
    extra_env: dict[str, str] | None = None,
    database_prefix: str = "journey",
) -> Iterator[System]:
    """The four services (`replicas` processes each) on `infra`, until the block ends (then killed)."""
    run = uuid.uuid4().hex[:10]
    logs.mkdir(parents=True, exist_ok=True)
    kafka = isolated(infra.kafka_bootstrap_servers)
    databases = {service: f"test_{database_prefix}_{service}_{run}" for service in SERVICES}
    rota = [f"oncall-{run}-1", f"oncall-{run}-2"]
    key = base64.b64encode(os.urandom(32)).decode()
    mail = mail if mail is not None else MailSink()
    smtp_port = free_port()
    smtp = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    groups: dict[str, list[Process]] = {name: [] for name in SERVICES}
    if infra.kafka_acls:  # each service runs as its own Kafka user, allowed only its own topics
        grant_service_access_now(kafka)
    try:
        for name in SERVICES:
            for replica in range(replicas):
                port = free_port()
                env = _environment(infra, kafka, name, replica, port, databases[name], key) | (
                    extra_env or {}
                )
                if infra.kafka_acls:
                    env |= kafka_users.client_environment(name)
                if name == "intake":
                    env["INTAKE_ON_CALL_ROTA"] = ",".join(rota)
                if name == "notifications":
                    env |= {
                        "NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
                        "NOTIFICATIONS_SMTP_PORT": str(smtp_port),
                        "NOTIFICATIONS_ON_CALL_ROTA": ",".join(rota),
                        "NOTIFICATIONS_CRITICAL_RETRY_INITIAL_SECONDS": "0.2",
                        "NOTIFICATIONS_DELIVERY_RETRY_INITIAL_SECONDS": "1",
                    }
                log = logs / (f"{name}.log" if replicas == 1 else f"{name}-{replica}.log")
                groups[name].append(_start(name, env, f"http://127.0.0.1:{port}", log, replica))
        deadline = time.monotonic() + START_TIMEOUT * max(1, replicas)
        for name in SERVICES:
            groups[name] = [_wait_until_ready(p, deadline) for p in groups[name]]
        yield System(
            kafka,
            bases={name: group[0].base for name, group in groups.items()},
            mail=mail,
            rota=rota,
            processes={name: group[0] for name, group in groups.items()},
            databases=databases,
            replicas=groups,
            clock=clock_of(extra_env or {}),
        )
    finally:
        for process in (p for group in groups.values() for p in group):
            if process.alive:
                process.popen.kill()
                process.popen.wait()
        smtp.stop()
        if infra.kafka_acls:
            revoke_service_access_now(kafka)
