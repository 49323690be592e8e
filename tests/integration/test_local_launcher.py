"""`make up` / `make down`: a second launcher on other ports, sharing the cached downloads.

Runs only where the suite itself uses the local launcher (no Docker, no external servers),
since it needs the launcher's cache of Kafka jars and the FerretDB binary.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.infrastructure import LAUNCHER, REPO, Infrastructure

PORTS = {"CAREPATH_KAFKA_PORT": 29092, "CAREPATH_KAFKA_CONTROLLER_PORT": 29093, "CAREPATH_MONGO_PORT": 29017}


@pytest.fixture
def launcher_env(infrastructure: Infrastructure, tmp_path: Path) -> Iterator[dict[str, str]]:
    cache = REPO / ".local" / "cache"
    if infrastructure.origin != "local launcher" or not cache.exists():
        pytest.skip("the suite is not running on the local launcher here")
    env = {**os.environ, **{k: str(v) for k, v in PORTS.items()}}
    env.update(CAREPATH_LOCAL_DIR=str(tmp_path / "state"), CAREPATH_CACHE_DIR=str(cache))
    yield env
    run(env, "down")


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LAUNCHER), *args],
        env=env,
        text=True,
        capture_output=True,
        check=False,
        timeout=300,
    )


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def pids(env: dict[str, str]) -> list[int]:
    run_dir = Path(env["CAREPATH_LOCAL_DIR"]) / "run"
    return [int(p.read_text().split()[0]) for p in run_dir.glob("*.pid")]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_up_then_down_leaves_no_process_or_port_and_a_second_up_reuses_the_caches(
    launcher_env: dict[str, str],
) -> None:
    first = run(launcher_env, "up")
    assert first.returncode == 0, first.stderr
    assert f"KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{PORTS['CAREPATH_KAFKA_PORT']}" in first.stdout
    assert run(launcher_env, "status").returncode == 0
    started = pids(launcher_env)
    assert len(started) == 2 and all(alive(pid) for pid in started)

    assert run(launcher_env, "down").returncode == 0
    assert not any(listening(port) for port in PORTS.values())
    assert not any(alive(pid) for pid in started)
    assert run(launcher_env, "status").returncode == 3

    again = run(launcher_env, "up")
    assert again.returncode == 0, again.stderr
    assert "first time only" not in again.stderr, "caches were reused: nothing downloaded or built"
    assert run(launcher_env, "down").returncode == 0
    assert not any(listening(port) for port in PORTS.values())
