"""`make run`: find Kafka and MongoDB, then run every service that exists, in the foreground.

Infrastructure comes from `deploy/local/discovery.py` (DESIGN §6 order, shared with the test
suite); with Docker it is `docker compose`'s kafka and mongodb, otherwise the local launcher.
The local SMTP and SMS/push sinks (`deploy/local/sinks.py`) start first, so a person
can read what was sent under `.local/notifications/`. Each service under
`services/<name>/` that has a `__main__.py` starts as `python -m services.<name>` on its
local port (DESIGN §7), its output prefixed with its name; `REPLICAS=2` starts a second
replica of each on port + 100 (same consumer groups, so they share the partitions).
Each replica is a static member of its groups under a name of its own (`KAFKA_GROUP_INSTANCE_ID`
= `<service>-<n>`, n from 0): started again (the next `make run`), it is handed its partitions
back at once, without a rebalance; one that does not come back (a smaller REPLICAS) holds its
partitions until its session times out (6 s).
Ctrl-C or SIGTERM stops the services (they drain and commit); the infrastructure keeps
running until `make down`. `make demo` (deploy/local/demo.py) starts its own set through
`start_all` and `stop_all` here, on other ports, sinks and topics. Run as
`python -m deploy.local.run_services` from the repository root; `JWT_SECRET` and the field
encryption key come from the environment (the Makefile exports development ones).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.discovery import REPO, InfrastructureError, provide, start_compose
from deploy.local.launcher import kafka_users
from deploy.local.sinks import DEVELOPMENT_SECRET
from shared.messaging.kafka_grants import grant_service_access_now
from shared.settings import KafkaSettings

PORTS = {"intake": 8001, "matching": 8002, "scheduling": 8003, "notifications": 8004}
REPLICA_PORT_STEP = 100
SMTP_SINK_PORT = 1025
PROVIDER_SINK_PORT = 8025
SINK_DIR = REPO / ".local" / "notifications"
ON_CALL_ROTA = ("oncall-1", "oncall-2")


@dataclass(frozen=True)
class Layout:
    """Where one set of services and sinks listens and writes: `make run`'s, or the demo's own."""

    ports: Mapping[str, int] = field(default_factory=lambda: dict(PORTS))
    smtp_port: int = SMTP_SINK_PORT
    provider_port: int = PROVIDER_SINK_PORT
    sink_dir: Path = SINK_DIR
    on_call_rota: tuple[str, ...] = ON_CALL_ROTA

    @property
    def mail_dir(self) -> Path:
        return self.sink_dir / "mail"

    def notifications_env(self) -> dict[str, str]:
        """Where notifications sends locally: the sinks, and a two-person on-call rota (intake's too)."""
        return {
            "NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
            "NOTIFICATIONS_SMTP_PORT": str(self.smtp_port),
            "NOTIFICATIONS_PROVIDER_WEBHOOK_URL": f"http://127.0.0.1:{self.provider_port}/messages",
            "NOTIFICATIONS_ON_CALL_ROTA": ",".join(self.on_call_rota),
            # The same clinicians may break the glass on a paged client's record in intake.
            "INTAKE_ON_CALL_ROTA": ",".join(self.on_call_rota),
            "NOTIFICATIONS_PROVIDER_SIGNING_SECRET": DEVELOPMENT_SECRET,  # the sinks verify with it
        }


def kafka_settings_of(env: Mapping[str, str]) -> dict[str, str]:
    """The `KAFKA_*` values of `env` as KafkaSettings fields (the login of the super user)."""
    return {
        name.removeprefix("KAFKA_").lower(): value for name, value in env.items() if name.startswith("KAFKA_")
    }


def say(message: str) -> None:
    print(f"carepath run: {message}", file=sys.stderr, flush=True)


def infrastructure_env(announce: Callable[[str], None] = say) -> dict[str, str]:
    """Kafka and MongoDB (DESIGN §6 order, Docker through compose); exits with the reason if none."""
    try:
        infrastructure = provide(on_docker=start_compose)
    except InfrastructureError as error:
        announce(str(error))
        sys.exit(1)
    announce(
        f"Kafka at {infrastructure.kafka_bootstrap_servers}, MongoDB at {infrastructure.mongodb_uri} "
        f"({infrastructure.origin})"
    )
    # This process's own Kafka clients (the demo's trail reader, topic clean-up) log in too.
    os.environ.update(infrastructure.environment())
    return infrastructure.environment()


def existing_services() -> list[str]:
    return [name for name in PORTS if (REPO / "services" / name / "__main__.py").exists()]


def pump(name: str, stream: object) -> None:
    for line in stream:  # type: ignore[attr-defined]
        sys.stdout.write(f"{name:>13} | {line}")
        sys.stdout.flush()


def replicas() -> int:
    value = os.environ.get("REPLICAS", "1")
    if not value.isdigit() or not 1 <= int(value) <= 5:
        say(f"REPLICAS must be a number from 1 to 5, not {value!r}")
        sys.exit(2)
    return int(value)


def start(
    name: str, argv: list[str], env: dict[str, str], log_dir: Path | None = None
) -> subprocess.Popen[str]:
    """Start one process: its output prefixed with `name` on stdout, or into `log_dir/<name>.log`."""
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        with (log_dir / f"{name}.log").open("w") as log:
            return subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    child = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    threading.Thread(target=pump, args=(name, child.stdout), daemon=True).start()
    return child


def start_all(
    env: Mapping[str, str],
    layout: Layout,
    services: list[str],
    *,
    replica_count: int = 1,
    log_dir: Path | None = None,
    announce: Callable[[str], None] = say,
) -> dict[str, subprocess.Popen[str]]:
    """The sinks (when notifications runs), then each service and replica, on `layout`'s ports.

    `make run` and `make demo` both start their processes here; the caller stops them with
    `stop_all`. A replica after the first listens on port + 100 per replica.
    """
    base = dict(env)
    children: dict[str, subprocess.Popen[str]] = {}
    kafka_acls = base.get(kafka_users.ACLS_VARIABLE) == "on"
    if kafka_acls:  # the broker allows nothing without an ACL: each service its own topics
        grant_service_access_now(KafkaSettings(**kafka_settings_of(base)))
        announce("Kafka: each service runs as its own user, allowed only its own topics and groups")
    if "notifications" in services:
        base = {**layout.notifications_env(), **base}
        children["sinks"] = start(
            "sinks",
            [
                sys.executable,
                "-m",
                "deploy.local.sinks",
                "--smtp-port",
                str(layout.smtp_port),
                "--provider-port",
                str(layout.provider_port),
                "--out",
                str(layout.sink_dir),
            ],
            base,
            log_dir,
        )
        announce(f"sent e-mails: {layout.mail_dir}/*.eml; SMS and push: {layout.sink_dir / 'provider.jsonl'}")
    for replica in range(replica_count):
        for name in services:
            port = layout.ports[name] + replica * REPLICA_PORT_STEP
            label = name if replica == 0 else f"{name}#{replica + 1}"
            children[label] = start(
                label,
                [sys.executable, "-m", f"services.{name}"],
                {
                    **base,
                    **(kafka_users.client_environment(name) if kafka_acls else {}),
                    f"{name.upper()}_HTTP_PORT": str(port),
                    "KAFKA_GROUP_INSTANCE_ID": f"{name}-{replica}",
                },
                log_dir,
            )
            announce(f"{label} on http://127.0.0.1:{port} (OpenAPI docs at http://127.0.0.1:{port}/docs)")
    return children


def stop_all(children: Mapping[str, subprocess.Popen[str]], timeout: float = 60.0) -> int:
    """SIGTERM the services (they drain and commit), then the sinks they may still send to.

    Whatever outlives `timeout` is killed.
    """
    services = {name: child for name, child in children.items() if name != "sinks"}
    sinks = {name: child for name, child in children.items() if name == "sinks"}
    deadline = time.monotonic() + timeout
    codes = []
    for group in (services, sinks):
        for child in group.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in group.values():
            try:
                codes.append(child.wait(timeout=max(0.1, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                child.kill()
                codes.append(child.wait())
    return max(codes, default=0)


def main() -> int:
    env = {**os.environ, **infrastructure_env()}
    env.setdefault("LOG_FORMAT", "console")
    if not env.get("JWT_SECRET"):
        say("JWT_SECRET is not set: services will refuse every token (`make run` sets a development one)")
    services = existing_services()
    if not services:
        say("the infrastructure is up; no service exists yet under services/ (nothing else to start)")
        say(f"Kafka {env['KAFKA_BOOTSTRAP_SERVERS']}  MongoDB {env['MONGODB_URI']}  (stop with `make down`)")
        return 0
    children = start_all(env, Layout(), services, replica_count=replicas())

    def stop(_signum: int, _frame: object) -> None:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    codes = [child.wait() for child in children.values()]
    return max(codes, default=0)


if __name__ == "__main__":
    sys.exit(main())
