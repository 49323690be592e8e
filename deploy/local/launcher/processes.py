"""The servers as processes: pid records, process groups, ports, and who holds a port.

Linux only (it reads /proc), like the rest of the local launcher.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from deploy.local.launcher.errors import LauncherError
from deploy.local.launcher.report import say
from deploy.local.launcher.settings import LOOPBACK

STOP_TIMEOUT_S = 20.0
KILL_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.25
TCP_LISTEN = "0A"
KAFKA_MARKER_PREFIX = "-Dcarepath.local.dir="  # see servers.kafka_marker


@dataclass(frozen=True)
class PidRecord:
    """What a pid file remembers: the process and how it was started (ports, label)."""

    pid: int
    ports: tuple[int, ...]
    label: str

    def write(self, path: Path) -> None:
        """Write-then-rename, so a concurrent `status` never reads a half-written file."""
        staging = path.with_name(path.name + ".partial")
        staging.write_text(self.render(), encoding="utf-8")
        staging.replace(path)

    def render(self) -> str:
        return f"{self.pid}\nports={','.join(map(str, self.ports))}\nlabel={self.label}\n"

    @classmethod
    def parse(cls, text: str) -> PidRecord | None:
        try:
            lines = text.splitlines()
            fields = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
            ports = tuple(int(port) for port in fields.get("ports", "").split(",") if port)
            return cls(int(lines[0]), ports, fields.get("label", "?"))
        except (IndexError, ValueError):
            return None

    @classmethod
    def read(cls, path: Path) -> PidRecord | None:
        try:
            return cls.parse(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None


def parse_proc_stat(raw: str) -> tuple[str, int]:
    """(state, process group) from a /proc/<pid>/stat line; the command name may hold spaces."""
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[2])


def proc_stat(pid: int) -> tuple[str, int] | None:
    try:
        return parse_proc_stat(Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace"))
    except (FileNotFoundError, ProcessLookupError):
        return None


def is_alive(pid: int) -> bool:
    """Zombies count as dead: they hold no ports and their parent reaps them."""
    stat = proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return [argument.decode(errors="replace") for argument in raw.split(b"\0") if argument]


def cmdline_has(pid: int, markers: tuple[str, ...]) -> bool:
    """Guards against pid reuse: one argument must be exactly a marker of the process we started.

    Whole-argument comparison, so /tmp/x never matches a process started for /tmp/x2.
    """
    arguments = command_line(pid)
    return any(marker in arguments for marker in markers)


def group_members(pgid: int) -> list[int]:
    """Live processes in a process group (a server and anything it forked)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat is not None and stat[1] == pgid and stat[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def reap_if_child(pid: int) -> None:
    """If this very run started the process, collect it so it does not linger as a zombie."""
    with suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def wait_for_group_exit(pgid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reap_if_child(pgid)
        if not group_members(pgid):
            return True
        time.sleep(POLL_INTERVAL_S)
    return False


def stop_group(pgid: int, name: str) -> None:
    """SIGTERM the whole group (graceful shutdown), SIGKILL it if it lingers."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if wait_for_group_exit(pgid, STOP_TIMEOUT_S):
        return
    say(f"{name} did not stop within {STOP_TIMEOUT_S:.0f} s; killing it")
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if not wait_for_group_exit(pgid, KILL_TIMEOUT_S):
        raise LauncherError(f"{name} (process group {pgid}) survived SIGKILL")


def port_is_free(port: int) -> bool:
    """Bind-test the port the way a server would (SO_REUSEADDR ignores TIME_WAIT leftovers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise LauncherError(f"cannot bind {LOOPBACK}:{port}: {error.strerror}") from None
    return True


def format_ports(ports: tuple[int, ...]) -> str:
    return ", ".join(f"{LOOPBACK}:{port}" for port in ports)


def listening_inodes(proc_net_tcp: str, port: int) -> set[str]:
    """Socket inodes listening on a port, from the text of /proc/net/tcp or /proc/net/tcp6."""
    inodes = set()
    for line in proc_net_tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 9 and fields[3] == TCP_LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
            inodes.add(fields[9])
    return inodes


def listener_pid(port: int) -> int | None:
    """The process listening on a port, when this user may see it (best effort, for messages)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(OSError):
            inodes |= listening_inodes(Path(table).read_text(encoding="utf-8"), port)
    sockets = {f"socket:[{inode}]" for inode in inodes}
    if not sockets:
        return None
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                if any(os.readlink(fd) in sockets for fd in (entry / "fd").iterdir()):
                    return int(entry.name)
    return None


def describe_holder(port: int) -> str:
    """Who listens on a port, for messages: 'pid 123, Kafka of the Carepath launcher in /x/.local'."""
    pid = listener_pid(port)
    if pid is None:
        return "a process this user cannot see"
    return f"pid {pid}, {summarize_command(command_line(pid))}"


def summarize_command(arguments: list[str]) -> str:
    """A launcher-started server by what it serves from; anything else by its (shortened) command."""
    for index, argument in enumerate(arguments):
        if argument.startswith(KAFKA_MARKER_PREFIX):
            return f"Kafka of the Carepath launcher in {argument.removeprefix(KAFKA_MARKER_PREFIX)}"
        following = arguments[index + 1] if index + 1 < len(arguments) else "?"
        if argument == "-sqlite-url":
            return f"FerretDB with data in {following.removeprefix('file:').split('?')[0]}"
        if argument == "--dbpath":
            return f"mongod with data in {following}"
    text = " ".join(arguments) or "?"
    return text if len(text) <= 100 else text[:97] + "..."
