"""`make up` / `make down`: a second launcher on other ports, sharing the cached downloads.

Runs wherever the launcher's caches (Kafka jars, the FerretDB build) are already in place,
since building them would not fit in a test's timeout; elsewhere it is skipped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.launcher.ferretdb_build import ferretdb_binary
from deploy.local.launcher.kafka_jars import kafka_libs
from deploy.local.launcher.settings import Settings
from tests.support.infrastructure import LAUNCHER, REPO

PORTS = {"CAREPATH_KAFKA_PORT": 29092, "CAREPATH_KAFKA_CONTROLLER_PORT": 29093, "CAREPATH_MONGO_PORT": 29017}


@pytest.fixture
def launcher_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    cache = REPO / ".local" / "cache"
    layout = Settings.from_env({"CAREPATH_CACHE_DIR": str(cache)}).layout
    if not (kafka_libs(layout).is_fresh() and ferretdb_binary(layout).is_fresh()):
        pytest.skip("the launcher's caches are not built in this checkout (the suite uses other servers)")
    env = {**os.environ, **{k: str(v) for k, v in PORTS.items()}}
    env.update(CAREPATH_LOCAL_DIR=str(tmp_path / "state"), CAREPATH_CACHE_DIR=str(cache))
    env.pop("CAREPATH_MONGO_BACKEND", None)
    yield env
    run(env, "down")


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *LAUNCHER, *args],
        cwd=REPO,
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
    assert "# started: kafka mongo" in first.stdout
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


def test_a_second_state_folder_uses_the_servers_already_answering_and_down_leaves_them_running(
    launcher_env: dict[str, str], tmp_path: Path
) -> None:
    assert run(launcher_env, "up").returncode == 0
    owner = pids(launcher_env)
    second = {**launcher_env, "CAREPATH_LOCAL_DIR": str(tmp_path / "second")}

    used = run(second, "up")
    assert used.returncode == 0, used.stderr
    assert f"MONGODB_URI=mongodb://127.0.0.1:{PORTS['CAREPATH_MONGO_PORT']}/" in used.stdout
    assert "# started" not in used.stdout
    assert "did not start already answers" in used.stderr
    assert run(second, "status").returncode == 0

    assert run(second, "down").returncode == 0
    assert all(alive(pid) for pid in owner), "the second launcher stopped servers it did not start"
    assert all(listening(port) for port in PORTS.values())


def test_a_port_held_by_something_else_fails_naming_the_port_and_its_holder(
    launcher_env: dict[str, str],
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", PORTS["CAREPATH_KAFKA_CONTROLLER_PORT"]))
        squatter.listen()
        refused = run(launcher_env, "up")
    assert refused.returncode == 1
    assert f"127.0.0.1:{PORTS['CAREPATH_KAFKA_CONTROLLER_PORT']}" in refused.stderr
    assert f"pid {os.getpid()}" in refused.stderr
    assert "CAREPATH_KAFKA_CONTROLLER_PORT" in refused.stderr
    assert not pids(launcher_env), "nothing was started"
