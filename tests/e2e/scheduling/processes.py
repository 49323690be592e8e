"""Replicas of the scheduling service as real processes (`python -m services.scheduling`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import SecretStr

from shared.http.auth import Role, mint_token
from shared.settings import AuthSettings, KafkaSettings
from tests.support.infrastructure import REPO, Infrastructure, free_port

SECRET = "scheduling-e2e-secret-long-enough-for-hs256"


def bearer(subject: str, role: Role) -> dict[str, str]:
    token = mint_token(AuthSettings(secret=SecretStr(SECRET)), subject=subject, role=role)
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    base: str


@contextmanager
def scheduling_replicas(
    infra: Infrastructure, kafka: KafkaSettings, database: str, logs: Path, count: int = 2, **env: str
) -> Iterator[list[Replica]]:
    """`count` replicas on one topic prefix and database, each on its own free port; killed at the end.

    Each replica's output goes to `logs/scheduling-<n>.log`, kept for a failing test's reader.
    """
    replicas = []
    try:
        for n in range(count):
            port = free_port()
            with (logs / f"scheduling-{n}.log").open("ab") as output:
                process = subprocess.Popen(
                    [sys.executable, "-m", "services.scheduling"],
                    cwd=REPO,
                    env={
                        **os.environ,
                        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
                        "KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
                        "MONGODB_URI": infra.mongodb_uri,
                        "JWT_SECRET": SECRET,
                        "LOG_LEVEL": "INFO",
                        "SCHEDULING_HTTP_HOST": "127.0.0.1",
                        "SCHEDULING_HTTP_PORT": str(port),
                        "SCHEDULING_METRICS_PORT": str(free_port()),
                        "SCHEDULING_MONGODB_DATABASE": database,
                        "SCHEDULING_CONSUMERS_PER_TOPIC": "1",
                        "SCHEDULING_TIMER_POLL_INTERVAL_SECONDS": "0.2",
                        # Tests move timers from outside the replicas, which only a sweep sees.
                        "SCHEDULING_TIMER_SWEEP_INTERVAL_SECONDS": "0.5",
                        "SCHEDULING_RELAY_POLL_INTERVAL_SECONDS": "0.2",
                        **env,
                    },
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            replicas.append(Replica(process, f"http://127.0.0.1:{port}"))
        for replica in replicas:
            wait_until_ready(replica)
        yield replicas
    finally:
        for replica in replicas:
            if replica.process.poll() is None:
                replica.process.kill()
                replica.process.wait()


def wait_until_ready(replica: Replica, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert replica.process.poll() is None, "a scheduling replica exited during start-up"
        try:
            if httpx.get(f"{replica.base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("a scheduling replica never became ready")
