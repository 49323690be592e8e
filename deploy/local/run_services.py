"""`make run`: find Kafka and MongoDB, then run every service that exists, in the foreground.

Infrastructure comes from `deploy/local/discovery.py` (DESIGN §6 order, shared with the test
suite); with Docker it is `docker compose`'s kafka and mongodb, otherwise the local launcher.
Each service under `services/<name>/` that has a `__main__.py` starts as
`python -m services.<name>` on its local port (DESIGN §7), its output prefixed with its name.
Ctrl-C or SIGTERM stops the services (they drain and commit); the infrastructure keeps
running until `make down`. Run as `python -m deploy.local.run_services` from the repository
root; `JWT_SECRET` comes from the environment (the Makefile exports the development one).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from deploy.local.discovery import REPO, InfrastructureError, provide, start_compose

PORTS = {"intake": 8001, "matching": 8002, "scheduling": 8003, "notifications": 8004}


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


def main() -> int:
    env = {**os.environ, **infrastructure_env()}
    if not env.get("JWT_SECRET"):
        say("JWT_SECRET is not set: services will refuse every token (`make run` sets a development one)")
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
