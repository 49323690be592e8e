"""A Docker engine to talk to: the one that answers, or (Debian, root) one installed and started here.

Whatever this driver starts it records under its state folder, and `down` stops exactly
that: a `dockerd` someone else runs is never touched, and installed packages stay.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.compose.report import ComposeError, say

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Engine:
    docker: str  # the CLI
    state: Path  # the driver's folder: dockerd's pid and log when it started one

    @property
    def pid_file(self) -> Path:
        return self.state / "dockerd.pid"

    @property
    def log_file(self) -> Path:
        return self.state / "dockerd.log"

    def answers(self) -> bool:
        try:
            probe = subprocess.run([self.docker, "info"], capture_output=True, check=False, timeout=20)
        except (subprocess.TimeoutExpired, OSError):
            return False
        return probe.returncode == 0

    def run(self, *args: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess[str]:
        """A docker command; its output is kept (quiet) or shown, and a failure raised with its tail."""
        result = subprocess.run(
            [self.docker, *args], capture_output=quiet, text=True, check=False, stdin=subprocess.DEVNULL
        )
        if check and result.returncode != 0:
            detail = (result.stderr or "").strip().splitlines()[-5:] if quiet else []
            raise ComposeError(
                f"`docker {' '.join(args[:3])}` failed (exit {result.returncode})\n" + "\n".join(detail)
            )
        return result


def find_engine(state: Path) -> Engine:
    docker = shutil.which("docker")
    if docker is None:
        return Engine("docker", state)
    return Engine(docker, state)


def ensure_engine(state: Path) -> Engine:
    """The engine that answers; else install (if needed) and start one, saying so."""
    engine = find_engine(state)
    if shutil.which("docker") is not None and engine.answers():
        return engine
    if shutil.which("dockerd") is None:
        install_packages(["docker.io"], why="no Docker engine is installed")
        engine = find_engine(state)
    start_dockerd(engine)
    return engine


def install_packages(packages: list[str], *, why: str) -> None:
    """Debian's own packages, as root: the only installing this driver ever does."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ComposeError(
            f"{why}, and installing {' '.join(packages)} here needs Debian's apt-get as root; "
            "install Docker Engine (https://docs.docker.com/engine/install/) and run again"
        )
    say(f"{why}: installing {' '.join(packages)} from the OS packages (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", NEEDRESTART_MODE="l")
    command = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    if _quietly(command, env).returncode == 0:
        return
    _quietly(["apt-get", "update", "-q"], env)
    installed = _quietly(command, env)
    if installed.returncode != 0:
        tail = "\n".join((installed.stdout + installed.stderr).strip().splitlines()[-8:])
        raise ComposeError(f"apt-get could not install {' '.join(packages)}:\n{tail}")


def _quietly(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """apt's chatter (debconf, needrestart) is kept and shown only if the step fails."""
    return subprocess.run(
        command, env=env, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )


def start_dockerd(engine: Engine) -> None:
    """dockerd in the background (it starts its own containerd), recorded as ours for `down`."""
    if os.geteuid() != 0:
        raise ComposeError("no Docker engine answers, and only root may start dockerd here")
    engine.state.mkdir(parents=True, exist_ok=True)
    say(f"no Docker engine answers: starting dockerd (log: {engine.log_file}); `make compose-down` stops it")
    with engine.log_file.open("ab") as log:
        process = subprocess.Popen(
            ["dockerd"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    engine.pid_file.write_text(f"{process.pid}\n", encoding="utf-8")
    deadline = time.monotonic() + START_TIMEOUT_S
    while not engine.answers():
        if process.poll() is not None:
            engine.pid_file.unlink(missing_ok=True)
            raise ComposeError(f"dockerd exited (code {process.returncode}); see {engine.log_file}")
        if time.monotonic() > deadline:
            raise ComposeError(
                f"dockerd did not answer within {START_TIMEOUT_S:.0f} s; see {engine.log_file}"
            )
        time.sleep(0.5)


def stop_started_dockerd(state: Path) -> bool:
    """Stop the dockerd this driver started, if it still runs; returns whether it did."""
    engine = find_engine(state)
    try:
        pid = int(engine.pid_file.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        return False
    if not _is_dockerd(pid):
        engine.pid_file.unlink(missing_ok=True)
        return False
    say(f"stopping the dockerd `make compose-up` started (pid {pid})")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _is_dockerd(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _is_dockerd(pid):
        os.kill(pid, signal.SIGKILL)
    engine.pid_file.unlink(missing_ok=True)
    return True


def _is_dockerd(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return Path(command.decode()).name == "dockerd" and status != "Z"
