#!/usr/bin/env python3
"""`make run`: find Kafka and MongoDB, then run every service that exists, in the foreground.

Infrastructure, in DESIGN §6 order: `KAFKA_BOOTSTRAP_SERVERS` and `MONGODB_URI` when set;
else, when a Docker engine answers, `docker compose up` of kafka, mongodb and kafka-topics;
else the local launcher (`launcher.py up`). Each service under `services/<name>/` that has
a `__main__.py` starts as `python -m services.<name>` on its local port (DESIGN §7), its
output prefixed with its name. Ctrl-C or SIGTERM stops the services (they drain and
commit); the infrastructure keeps running until `make down`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "deploy" / "local" / "launcher.py"
PORTS = {"intake": 8001, "matching": 8002, "scheduling": 8003, "notifications": 8004}
DEV_JWT_SECRET = "carepath-local-development-secret-do-not-use-in-production"  # noqa: S105 - local only


def say(message: str) -> None:
    print(f"carepath run: {message}", file=sys.stderr, flush=True)


def docker_answers() -> bool:
    if os.environ.get("CAREPATH_NO_DOCKER") or shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=10)
    return probe.returncode == 0


def infrastructure_env() -> dict[str, str]:
    kafka, mongo = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URI")
    if kafka and mongo:
        say(f"using Kafka at {kafka} and MongoDB from MONGODB_URI")
        return {"KAFKA_BOOTSTRAP_SERVERS": kafka, "MONGODB_URI": mongo}
    if docker_answers():
        say("Docker answers: starting kafka, mongodb and kafka-topics with docker compose")
        subprocess.run(["docker", "compose", "up", "-d", "--wait", "kafka", "mongodb"], cwd=REPO, check=True)
        subprocess.run(["docker", "compose", "run", "--rm", "kafka-topics"], cwd=REPO, check=True)
        return {
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{os.environ.get('KAFKA_HOST_PORT', '9094')}",
            "MONGODB_URI": "mongodb://127.0.0.1:27017/?directConnection=true",
        }
    started = subprocess.run(
        [sys.executable, str(LAUNCHER), "up"], cwd=REPO, check=False, stdout=subprocess.PIPE, text=True
    )
    if started.returncode != 0:
        sys.exit(started.returncode)
    return dict(
        line.split("=", 1) for line in started.stdout.splitlines() if "=" in line and not line.startswith("#")
    )


def existing_services() -> list[str]:
    return [name for name in PORTS if (REPO / "services" / name / "__main__.py").exists()]


def pump(name: str, stream: object) -> None:
    for line in stream:  # type: ignore[attr-defined]
        sys.stdout.write(f"{name:>13} | {line}")
        sys.stdout.flush()


def main() -> int:
    env = {**os.environ, **infrastructure_env()}
    env.setdefault("JWT_SECRET", DEV_JWT_SECRET)
    services = existing_services()
    if not services:
        say("the infrastructure is up; no service exists yet under services/ (nothing else to start)")
        say(f"Kafka {env['KAFKA_BOOTSTRAP_SERVERS']}  MongoDB {env['MONGODB_URI']}  (stop with `make down`)")
        return 0
    children: dict[str, subprocess.Popen[str]] = {}
    for name in services:
        service_env = {**env, f"{name.upper()}_HTTP_PORT": str(PORTS[name])}
        children[name] = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            cwd=REPO,
            env=service_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=pump, args=(name, children[name].stdout), daemon=True).start()
        say(f"{name} on http://127.0.0.1:{PORTS[name]} (docs at /docs)")

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
