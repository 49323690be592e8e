"""`make run`: find Kafka and MongoDB, then run every service that exists, in the foreground.

Infrastructure comes from `deploy/local/discovery.py` (DESIGN §6 order, shared with the test
suite); with Docker it is `docker compose`'s kafka and mongodb, otherwise the local launcher.
The local SMTP and SMS/push sinks (`services.notifications.sinks`) start first, so a person
can read what was sent under `.local/notifications/`. Each service under
`services/<name>/` that has a `__main__.py` starts as `python -m services.<name>` on its
local port (DESIGN §7), its output prefixed with its name; `REPLICAS=2` starts a second
replica of each on port + 100 (same consumer group, so they share the partitions).
Ctrl-C or SIGTERM stops the services (they drain and commit); the infrastructure keeps
running until `make down`. Run as `python -m deploy.local.run_services` from the repository
root; `JWT_SECRET` and the field encryption key come from the environment (the Makefile
exports development ones).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from deploy.local.discovery import REPO, InfrastructureError, provide, start_compose
from services.notifications.sinks import DEVELOPMENT_SECRET

PORTS = {"intake": 8001, "matching": 8002, "scheduling": 8003, "notifications": 8004}
REPLICA_PORT_STEP = 100
SMTP_SINK_PORT = 1025
PROVIDER_SINK_PORT = 8025
SINK_DIR = REPO / ".local" / "notifications"

# Where notifications sends locally: the sinks above, and a two-person on-call rota.
LOCAL_NOTIFICATIONS = {
    "NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
    "NOTIFICATIONS_SMTP_PORT": str(SMTP_SINK_PORT),
    "NOTIFICATIONS_PROVIDER_WEBHOOK_URL": f"http://127.0.0.1:{PROVIDER_SINK_PORT}/messages",
    "NOTIFICATIONS_ON_CALL_ROTA": "oncall-1,oncall-2",
    "NOTIFICATIONS_PROVIDER_SIGNING_SECRET": DEVELOPMENT_SECRET,  # the sinks verify with the same one
}


def say(message: str) -> None:
    print(f"carepath run: {message}", file=sys.stderr, flush=True)


def infrastructure_env() -> dict[str, str]:
    try:
        infrastructure = provide(on_docker=start_compose)
    except InfrastructureError as error:
        say(str(error))
        sys.exit(1)
    say(
        f"Kafka at {infrastructure.kafka_bootstrap_servers}, MongoDB at {infrastructure.mongodb_uri} "
        f"({infrastructure.origin})"
    )
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


def start(name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    threading.Thread(target=pump, args=(name, child.stdout), daemon=True).start()
    return child


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
    children: dict[str, subprocess.Popen[str]] = {}
    if "notifications" in services:
        env = {**LOCAL_NOTIFICATIONS, **env}
        children["sinks"] = start(
            "sinks",
            [
                sys.executable,
                "-m",
                "services.notifications.sinks",
                "--smtp-port",
                str(SMTP_SINK_PORT),
                "--provider-port",
                str(PROVIDER_SINK_PORT),
                "--out",
                str(SINK_DIR),
            ],
            env,
        )
        say(f"sent e-mails: {SINK_DIR / 'mail'}/*.eml; SMS and push: {SINK_DIR / 'provider.jsonl'}")
    for replica in range(replicas()):
        for name in services:
            port = PORTS[name] + replica * REPLICA_PORT_STEP
            label = name if replica == 0 else f"{name}#{replica + 1}"
            children[label] = start(
                label,
                [sys.executable, "-m", f"services.{name}"],
                {**env, f"{name.upper()}_HTTP_PORT": str(port)},
            )
            say(f"{label} on http://127.0.0.1:{port} (OpenAPI docs at http://127.0.0.1:{port}/docs)")

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
