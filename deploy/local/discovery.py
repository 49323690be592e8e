"""Where Kafka and MongoDB come from, in DESIGN §6 order: written once, for `make run` and the suite.

1. `KAFKA_BOOTSTRAP_SERVERS` and `MONGODB_URI` set: use them.
2. A Docker engine answers: containers. The suite takes throwaway testcontainers (Kafka 4.1
   in KRaft mode, MongoDB 8 as a single-node replica set); `make run` passes
   `start_compose`, the compose file's kafka and mongodb, which outlive it.
3. Otherwise the local launcher (`python3 -m deploy.local.launcher up`); whoever asked stops
   only the servers that this very `up` started.

Standard library only, except testcontainers, imported on the Docker path alone.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

from deploy.local.launcher import kafka_users

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = ("-m", "deploy.local.launcher")  # after the Python executable, run from REPO
LAUNCHER_PREFIX = "carepath launcher: "
KAFKA_IMAGE = "apache/kafka:4.1.2"
MONGO_IMAGE = "mongo:8.0"
# Built by `make compose-up` where Docker Hub cannot be reached (deploy/docker/local-images).
LOCAL_KAFKA_IMAGE = "carepath-local/kafka:4.1.2"
LOCAL_MONGO_IMAGE = "carepath-local/ferretdb:1.24.2"


class InfrastructureError(RuntimeError):
    """Kafka and MongoDB could not be provided; the message says why, in the launcher's own words."""


class ImagesUnavailable(InfrastructureError):
    """A Docker engine answers, but neither the official images nor local ones are to be had."""


KAFKA_LOGIN = (
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    kafka_users.ACLS_VARIABLE,
)
"""How a client logs in to the broker found (the local launcher's has SASL users and ACLs)."""


@dataclass
class Infrastructure:
    kafka_bootstrap_servers: str
    mongodb_uri: str
    origin: str  # "environment", "testcontainers", "docker compose" or "local launcher"
    _stop: list[Callable[[], object]] = field(default_factory=list)
    kafka_login: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "MONGODB_URI": self.mongodb_uri,
            **self.kafka_login,
        }

    @property
    def kafka_acls(self) -> bool:
        """Whether each service has a Kafka user of its own and may touch only its topics."""
        return self.kafka_login.get(kafka_users.ACLS_VARIABLE) == "on"

    def stop(self) -> None:
        """Stop what providing started (nothing for the environment or servers already running)."""
        while self._stop:
            self._stop.pop()()


def provide(
    on_docker: Callable[[], Infrastructure] | None = None, environ: Mapping[str, str] = os.environ
) -> Infrastructure:
    """The DESIGN §6 order; `on_docker` chooses how Docker is used (default: testcontainers)."""
    kafka, mongo = environ.get("KAFKA_BOOTSTRAP_SERVERS"), environ.get("MONGODB_URI")
    if kafka and mongo:
        login = {name: environ[name] for name in KAFKA_LOGIN if environ.get(name)}
        return Infrastructure(kafka, mongo, origin="environment", kafka_login=login)
    if docker_answers(environ):
        try:
            return (on_docker or start_testcontainers)()
        except ImagesUnavailable as why:
            print(f"{LAUNCHER_PREFIX}{why}: using the local launcher instead", file=sys.stderr, flush=True)
    return start_local_launcher()


def docker_answers(environ: Mapping[str, str] = os.environ) -> bool:
    """CAREPATH_NO_DOCKER opts out; otherwise ask the engine (SDK if installed, else the CLI)."""
    if environ.get("CAREPATH_NO_DOCKER"):
        return False
    try:
        import docker
    except ImportError:
        return docker_cli_answers()
    try:
        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


def docker_cli_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=10)
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


LISTEN_PORTS_FROM = 20000
_next_port: list[int] = []  # this process's next candidate (a random start, then in turn)


def free_port() -> int:
    """A port nothing listens on yet, for a server about to start on it.

    Picked below the kernel's ephemeral range (32768–60999 on Linux), not by binding port 0:
    outgoing connections (every Kafka and MongoDB client) take their local ports from that
    range, and one can take a port picked there before its server binds it ("address already
    in use", seen when two test systems start at once). Candidates go in turn from a random
    start, so processes picking at the same time seldom meet, and each is bind-checked.
    """
    low, high = LISTEN_PORTS_FROM, _ephemeral_start()
    if high - low < 1000:  # an unusual range: let the kernel pick
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    if not _next_port:
        _next_port.append(random.randrange(low, high))  # noqa: S311 (spreading, not secrecy)
    for _ in range(high - low):
        port = _next_port[0]
        _next_port[0] = low + (port + 1 - low) % (high - low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError(f"no free port between {low} and {high}")


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# --------------------------------------------------------------------------- the local launcher


@dataclass(frozen=True)
class LauncherRun:
    returncode: int
    stdout: str
    stderr: str

    def reason(self) -> str:
        """The launcher's own failure: its last message line and the details printed after it."""
        lines = self.stderr.rstrip().splitlines()
        last = max((i for i, line in enumerate(lines) if line.startswith(LAUNCHER_PREFIX)), default=0)
        return "\n".join(lines[last:]) or f"exit code {self.returncode}, no message"


def run_launcher(*args: str, show_progress: bool = True) -> LauncherRun:
    """Run the launcher, its progress shown live on stderr and also kept for the failure message.

    stderr is looked up per call, not at import: pytest swaps it while it imports conftests.
    """
    progress = sys.stderr if show_progress else None
    process = subprocess.Popen(
        [sys.executable, *LAUNCHER, *args],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert process.stdout is not None and process.stderr is not None
    kept: list[str] = []
    relay = threading.Thread(target=tee, args=(process.stderr, kept, progress), daemon=True)
    relay.start()
    stdout = process.stdout.read()
    returncode = process.wait()
    relay.join()
    return LauncherRun(returncode, stdout, "".join(kept))


def tee(source: IO[str], kept: list[str], sink: IO[str] | None) -> None:
    for line in source:
        kept.append(line)
        if sink is not None:
            sink.write(line)
            sink.flush()


def parse_up_output(stdout: str) -> tuple[dict[str, str], list[str]]:
    """`up` prints KEY=VALUE lines, then comments; `# started: kafka mongo` names what it started."""
    values: dict[str, str] = {}
    started: list[str] = []
    for line in stdout.splitlines():
        if line.startswith("# started:"):
            started = line.removeprefix("# started:").split()
        elif "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip("'\"")
    return values, started


def start_local_launcher() -> Infrastructure:
    run = run_launcher("up")
    if run.returncode != 0:
        raise InfrastructureError(f"the local launcher could not provide Kafka and MongoDB:\n{run.reason()}")
    values, started = parse_up_output(run.stdout)
    stops: list[Callable[[], object]] = [partial(run_launcher, "down", *started)] if started else []
    return Infrastructure(
        values["KAFKA_BOOTSTRAP_SERVERS"],
        values["MONGODB_URI"],
        origin="local launcher",
        _stop=stops,
        kafka_login={name: values[name] for name in KAFKA_LOGIN if name in values},
    )


# --------------------------------------------------------------------------- Docker


def start_testcontainers() -> Infrastructure:
    """Throwaway containers on free ports; the suite stops them (and Ryuk does, should it crash)."""
    from testcontainers.core.config import testcontainers_config
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    kafka_image = usable_image(KAFKA_IMAGE, LOCAL_KAFKA_IMAGE)
    mongo_image = usable_image(MONGO_IMAGE, LOCAL_MONGO_IMAGE)
    if not image_available(testcontainers_config.ryuk_image):
        # Ryuk only reaps containers after a crash of the suite; the suite stops its own.
        testcontainers_config.ryuk_disabled = True
    kafka_port = free_port()
    kafka = (
        DockerContainer(kafka_image)
        .with_bind_ports(9092, kafka_port)
        .with_env("KAFKA_NODE_ID", "1")
        .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
        .with_env("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093")
        .with_env("KAFKA_ADVERTISED_LISTENERS", f"PLAINTEXT://127.0.0.1:{kafka_port}")
        .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
        .with_env("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT")
        .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
        .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "1")
        .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
        .with_env("KAFKA_NUM_PARTITIONS", "6")
        .with_env("KAFKA_HEAP_OPTS", "-Xmx1g -Xms1g")  # a full run creates thousands of partitions
        .waiting_for(LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(120))
    )
    mongo_port = free_port()
    mongo = DockerContainer(mongo_image).with_bind_ports(27017, mongo_port)
    if mongo_image == LOCAL_MONGO_IMAGE:  # FerretDB: no replica set to initiate
        kafka.start()
        mongo.waiting_for(LogMessageWaitStrategy("FerretDB listening").with_startup_timeout(60)).start()
        return Infrastructure(
            f"127.0.0.1:{kafka_port}",
            f"mongodb://127.0.0.1:{mongo_port}/",
            origin="testcontainers (local images)",
            _stop=[kafka.stop, mongo.stop],
        )
    mongo = mongo.with_command("--replSet rs0 --bind_ip_all").waiting_for(
        LogMessageWaitStrategy("Waiting for connections").with_startup_timeout(120)
    )
    kafka.start()
    mongo.start()
    code, output = mongo.exec(
        [
            "mongosh",
            "--quiet",
            "--eval",
            "rs.initiate({_id: 'rs0', members: [{_id: 0, host: 'localhost:27017'}]})",
        ]
    )
    if code != 0:
        kafka.stop()
        mongo.stop()
        raise InfrastructureError(f"could not initiate the MongoDB replica set: {output!r}")
    return Infrastructure(
        f"127.0.0.1:{kafka_port}",
        f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true",
        origin="testcontainers",
        _stop=[kafka.stop, mongo.stop],
    )


def image_available(name: str) -> bool:
    """Present, or pulled now."""
    from docker.errors import APIError

    with docker_client() as client:
        try:
            return image_present(client, name) or pull_refused(client, name) is None
        except APIError:  # the engine could not even say whether it has it
            return False


def usable_image(official: str, local: str) -> str:
    """The official image if present or pullable, else the locally built one if present."""
    with docker_client() as client:
        for name in (official, local):
            if image_present(client, name):
                return name
        reason = pull_refused(client, official)
        if reason is None:
            return official
    raise ImagesUnavailable(
        f"a Docker engine answers, but {official} cannot be pulled ({reason}) and {local} is not "
        "built (`make compose-up` builds it)"
    )


@contextmanager
def docker_client() -> Iterator[Any]:
    import docker

    client = docker.from_env(timeout=60)
    try:
        yield client
    finally:
        client.close()


def image_present(client: Any, name: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.images.get(name)
    except ImageNotFound:
        return False
    return True


def pull_refused(client: Any, name: str) -> str | None:
    """None once pulled; otherwise the engine's reason, in one line."""
    from docker.errors import APIError

    try:
        client.images.pull(name)
    except APIError as error:
        return str(error.explanation or error).splitlines()[0]
    return None


def start_compose() -> Infrastructure:
    """The compose file's kafka and mongodb (and topics), left running like the launcher's servers."""
    if shutil.which("docker") is None:
        raise InfrastructureError(
            "a Docker engine answers, but the docker CLI (for docker compose) is missing"
        )
    subprocess.run(["docker", "compose", "up", "-d", "--wait", "kafka", "mongodb"], cwd=REPO, check=True)
    subprocess.run(["docker", "compose", "run", "--rm", "kafka-topics"], cwd=REPO, check=True)
    return Infrastructure(
        f"127.0.0.1:{os.environ.get('KAFKA_HOST_PORT', '9094')}",
        "mongodb://127.0.0.1:27017/?directConnection=true",
        origin="docker compose",
        # The compose broker has the launcher's users, with the same development passwords.
        kafka_login={**kafka_users.client_environment(kafka_users.ADMIN), kafka_users.ACLS_VARIABLE: "on"},
    )
