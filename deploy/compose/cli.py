"""`up`, `down` and `test`: the compose stack on this machine, Docker Hub or not.

python3 -m deploy.compose up      # engine, images, the stack healthy (make compose-up)
python3 -m deploy.compose down    # the stack removed; a dockerd `up` started, stopped
python3 -m deploy.compose test    # up, the journey suite in a container, again with
                                  # 3 matching replicas, down (make compose-test)
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from deploy.compose.engine import Engine, ensure_engine, find_engine, stop_started_dockerd
from deploy.compose.images import (
    HOST_CA_BUNDLE,
    build_local_images,
    build_project_images,
    choose_images,
)
from deploy.compose.report import PREFIX, ComposeError, say, step
from deploy.compose.tool import compose_command
from deploy.local.launcher.layout import REPO_ROOT
from deploy.local.launcher.settings import Settings

# Kafka's and MongoDB's host ports (docker-compose.yml): moved aside when the local launcher holds them.
HOST_PORTS = {"KAFKA_HOST_PORT": 9094, "MONGODB_HOST_PORT": 27017}
# Matching's consumers of intake-completed: how the driver sees replicas share partitions.
SHARED_GROUP = "carepath-matching.intake-completed"
GATEWAY_PORTS = {"intake": 8001, "matching": 8002, "scheduling": 8003, "notifications": 8004}
READY_TIMEOUT_S = 300.0
JOURNEY_OVERRIDE = REPO_ROOT / "deploy" / "docker" / "compose.journey.yml"
TRUST = REPO_ROOT / "deploy" / "docker" / "trust" / "ca-certificates.crt"


@dataclass(frozen=True)
class Stack:
    engine: Engine
    compose: list[str]
    files: list[Path]

    def command(self, *args: str) -> list[str]:
        files = [arg for file in self.files for arg in ("--file", str(file))]
        return [*self.compose, "--project-directory", str(REPO_ROOT), *files, *args]

    def run(self, *args: str, check: bool = True) -> int:
        code = subprocess.run(self.command(*args), check=False, stdin=subprocess.DEVNULL).returncode
        if check and code != 0:
            raise ComposeError(f"`docker compose {' '.join(args)}` failed (exit {code})")
        return code

    def output(self, *args: str) -> str:
        """A compose command's standard output (its failure is part of what the caller checks)."""
        answer = subprocess.run(self.command(*args), capture_output=True, text=True, check=False)
        return answer.stdout + answer.stderr


def state_folder() -> Path:
    return Settings.from_env(os.environ).state_dir / "compose"


def cache_folder() -> Path:
    return Settings.from_env(os.environ).cache_dir


def prepare(journey: bool) -> Stack:
    """Engine, compose, images: everything the stack needs before it starts."""
    state, cache = state_folder(), cache_folder()
    state.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    with step("finding a Docker engine"):
        engine = ensure_engine(state)
    with step("finding docker compose"):
        compose = compose_command(engine.docker, cache)
    with step("choosing images (official where they can be pulled)"):
        images = choose_images(engine)
    if images.local:
        with step("the Kafka jars and FerretDB binary (local launcher cache)"):
            artifacts = launcher_artifacts()
        with step("local images"):
            build_local_images(engine, cache, artifacts)
    if HOST_CA_BUNDLE.is_file():
        shutil.copyfile(HOST_CA_BUNDLE, TRUST)
    with step("project images (services, sinks, tests)"):
        build_project_images(engine, images)
    files = images.compose_files() + ([JOURNEY_OVERRIDE] if journey else [])
    os.environ["PYTHON_IMAGE"] = images.python
    for setting, default in HOST_PORTS.items():
        os.environ.setdefault(setting, str(default if port_is_free(default) else free_port(setting, default)))
    return Stack(engine, compose, files)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def free_port(setting: str, taken: int) -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    say(f"port {taken} is taken (the local launcher?): {setting}={port}")
    return port


def launcher_artifacts() -> dict[str, Path]:
    answer = subprocess.run(
        [sys.executable, "-m", "deploy.local.launcher", "artifacts"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if answer.returncode != 0:
        raise ComposeError(
            f"the local launcher could not provide Kafka and FerretDB:\n{answer.stderr.strip()}"
        )
    return {key: Path(value) for key, value in (line.split("=", 1) for line in answer.stdout.split())}


def start(stack: Stack) -> None:
    with step("starting the stack"):
        stack.run("up", "--detach", "--no-build", "--remove-orphans")
    with step("waiting until every service is ready through the gateway"):
        wait_until_ready(READY_TIMEOUT_S)


def scale_matching(stack: Stack, replicas: int) -> None:
    """More matching replicas, nothing else touched; ready once they share matching's partitions."""
    with step(f"scaling matching to {replicas} replicas"):
        stack.run("up", "--detach", "--no-build", "--no-deps", "--scale", f"matching={replicas}", "matching")
    with step(f"waiting until {replicas} matching replicas share the partitions of {SHARED_GROUP}"):
        say(wait_until_shared(stack, SHARED_GROUP, replicas, READY_TIMEOUT_S))
        wait_until_ready(READY_TIMEOUT_S)


# Run in the kafka container, which authenticates every client: log in as the super user
# (its password is the container's HEALTHCHECK_PASSWORD), then describe the group in $1.
DESCRIBE_GROUP = (
    "printf '%s\\n' security.protocol=SASL_PLAINTEXT sasl.mechanism=SCRAM-SHA-512 "
    '"sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required '
    'username=\\"admin\\" password=\\"$HEALTHCHECK_PASSWORD\\";" > /tmp/describe.properties '
    "&& exec /opt/kafka/bin/kafka-consumer-groups.sh --bootstrap-server localhost:9092 "
    '--command-config /tmp/describe.properties --describe --members --group "$1"'
)


def wait_until_shared(stack: Stack, group: str, replicas: int, timeout: float) -> str:
    """The group's members with partitions come from `replicas` distinct hosts (containers)."""
    deadline = time.monotonic() + timeout
    while True:
        described = stack.output("exec", "-T", "kafka", "sh", "-c", DESCRIBE_GROUP, "describe", group)
        hosts, members, partitions = members_with_partitions(described)
        if len(hosts) >= replicas:
            return f"{group}: {members} consumers in {len(hosts)} replicas share {partitions} partitions"
        if time.monotonic() > deadline:
            raise ComposeError(
                f"{group} is consumed from {len(hosts)} replicas, not {replicas}:\n{described}"
            )
        time.sleep(2)


def members_with_partitions(described: str) -> tuple[set[str], int, int]:
    """From `kafka-consumer-groups.sh --describe --members`: hosts, members and partitions assigned."""
    hosts: set[str] = set()
    members = partitions = 0
    for line in described.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] == "GROUP" or not fields[-1].isdigit():
            continue
        if int(fields[-1]) > 0:
            hosts.add(fields[2])
            members += 1
            partitions += int(fields[-1])
    return hosts, members, partitions


def wait_until_ready(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = dict(GATEWAY_PORTS)
    while waiting:
        for name, port in list(waiting.items()):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=3) as answer:
                    if answer.status == 200:
                        del waiting[name]
            except (urllib.error.URLError, OSError):
                pass
        if waiting and time.monotonic() > deadline:
            raise ComposeError(
                f"not ready within {timeout:.0f} s: {', '.join(waiting)} (see `docker compose logs`)"
            )
        if waiting:
            time.sleep(1)


def remove(stack: Stack) -> None:
    with step("removing the stack (containers, networks, volumes)"):
        stack.run("--profile", "tests", "down", "--volumes", "--remove-orphans", "--timeout", "20")


def cmd_up() -> int:
    stack = prepare(journey=False)
    start(stack)
    say("the stack is up: services on http://127.0.0.1:8001..8004; `make compose-down` removes it")
    return 0


def cmd_down() -> int:
    state = state_folder()
    engine = find_engine(state)
    if engine.answers():
        compose = compose_command(engine.docker, cache_folder())
        files = [REPO_ROOT / "docker-compose.yml"]
        remove(Stack(engine, compose, files))
    stop_started_dockerd(state)
    return 0


def cmd_test() -> int:
    """Up on the demo clock, the suite, the suite again on 3 matching replicas, then down."""
    started = time.monotonic()
    os.environ["DEMO_CLOCK_EPOCH"] = datetime.now(UTC).isoformat(timespec="seconds")
    stack = prepare(journey=True)
    failed = False
    try:
        start(stack)
        with step("journey suite in the tests container (1 matching replica)"):
            stack.run("--profile", "tests", "run", "--rm", "tests")
        scale_matching(stack, 3)
        with step("journey suite in the tests container (3 matching replicas)"):
            stack.run("--profile", "tests", "run", "--rm", "tests")
    except BaseException:
        failed = True
        stack.run("ps", "--all", check=False)
        stack.run("logs", "--tail", "40", check=False)
        raise
    finally:
        remove(stack)
        stop_started_dockerd(state_folder())
        say(f"compose test {'failed' if failed else 'passed'} in {time.monotonic() - started:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m deploy.compose", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("up", "down", "test"))
    args = parser.parse_args(argv)
    commands = {"up": cmd_up, "down": cmd_down, "test": cmd_test}
    try:
        return commands[args.command]()
    except ComposeError as error:
        print(f"{PREFIX}{error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PREFIX}interrupted", file=sys.stderr)
        return 130
