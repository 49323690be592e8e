"""Where the suite finds Kafka and MongoDB, in DESIGN §6 order.

1. `KAFKA_BOOTSTRAP_SERVERS` and `MONGODB_URI` set: use them.
2. A Docker engine answers: testcontainers (Kafka 4.1 in KRaft mode, MongoDB 8 as a
   single-node replica set).
3. Otherwise the local launcher (`deploy/local/launcher.py`): a real Kafka broker and
   FerretDB (or `mongod`). If the suite started it, the suite stops it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "deploy" / "local" / "launcher.py"
KAFKA_IMAGE = "apache/kafka:4.1.2"
MONGO_IMAGE = "mongo:8.0"


@dataclass
class Infrastructure:
    kafka_bootstrap_servers: str
    mongodb_uri: str
    origin: str
    _stop: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self._stop):
            stop()


def provide() -> Infrastructure:
    kafka, mongo = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URI")
    if kafka and mongo:
        return Infrastructure(kafka, mongo, origin="environment")
    if _docker_answers():
        return _from_testcontainers()
    return _from_local_launcher()


def _docker_answers() -> bool:
    if os.environ.get("CAREPATH_NO_DOCKER"):
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _from_testcontainers() -> Infrastructure:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    kafka_port = free_port()
    kafka = (
        DockerContainer(KAFKA_IMAGE)
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
        .waiting_for(LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(120))
    )
    mongo_port = free_port()
    mongo = (
        DockerContainer(MONGO_IMAGE)
        .with_bind_ports(27017, mongo_port)
        .with_command("--replSet rs0 --bind_ip_all")
        .waiting_for(LogMessageWaitStrategy("Waiting for connections").with_startup_timeout(120))
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
        raise RuntimeError(f"could not initiate the MongoDB replica set: {output!r}")
    return Infrastructure(
        f"127.0.0.1:{kafka_port}",
        f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true",
        origin="testcontainers",
        _stop=[kafka.stop, mongo.stop],
    )


def _launcher(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the launcher; its progress (stderr) goes to the terminal, its answers are returned."""
    return subprocess.run(
        [sys.executable, str(LAUNCHER), *args], cwd=REPO, text=True, stdout=subprocess.PIPE, check=False
    )


def _from_local_launcher() -> Infrastructure:
    already_running = _launcher("status").returncode == 0
    started = _launcher("up")
    if started.returncode != 0:
        raise RuntimeError(f"local launcher failed (see its messages above):\n{started.stdout}")
    values = dict(line.split("=", 1) for line in _launcher("env").stdout.splitlines() if "=" in line)
    stops = [] if already_running else [lambda: _launcher("down")]
    return Infrastructure(
        values["KAFKA_BOOTSTRAP_SERVERS"].strip().strip("'\""),
        values["MONGODB_URI"].strip().strip("'\""),
        origin="local launcher",
        _stop=stops,
    )
