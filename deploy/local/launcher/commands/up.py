"""`up`: start what is missing, reuse what runs, use what already answers, wait until all serve.

Order matters for a good failure: find what already serves each port, then resolve every
tool the missing servers need (exit 2 before anything slow), then download or build, then
start both at once and wait for each. A port held by something that does not speak the
server's protocol stops everything before any process starts, naming that port and holder.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from deploy.local.launcher.artifacts import CachedArtifact
from deploy.local.launcher.commands.down import stop_servers, wipe_data
from deploy.local.launcher.commands.env import env_lines, write_env_file
from deploy.local.launcher.errors import EXIT_OK, LauncherError, NotReadyError
from deploy.local.launcher.ferretdb_build import build_ferretdb, ferretdb_binary, ferretdb_version
from deploy.local.launcher.kafka_jars import fetch_kafka_libs, kafka_libs
from deploy.local.launcher.layout import Layout
from deploy.local.launcher.lock import cache_lock, launcher_lock
from deploy.local.launcher.logs import rotate_log, tail_file
from deploy.local.launcher.probes import PROBE_ERRORS
from deploy.local.launcher.processes import (
    KILL_TIMEOUT_S,
    POLL_INTERVAL_S,
    PidRecord,
    describe_holder,
    format_ports,
    is_alive,
    port_is_free,
    stop_group,
)
from deploy.local.launcher.report import say
from deploy.local.launcher.servers import Server, kafka_server, mongo_server, running_record
from deploy.local.launcher.settings import LOOPBACK, Settings
from deploy.local.launcher.startup import ferretdb_command, kafka_command, mongod_command
from deploy.local.launcher.toolchain import (
    find_mongod,
    require_go,
    require_java,
    require_maven,
    require_mongod,
)

FOREIGN_ANSWER_WAIT_S = 10.0  # another launcher's server may still be starting


@dataclass(frozen=True)
class Existing:
    """What serves a server's ports before `up` starts anything: ours, another one, or nothing."""

    record: PidRecord | None = None  # ours, from its pid file
    holder: str | None = None  # a server of the same kind this launcher did not start

    @property
    def missing(self) -> bool:
        return self.record is None and self.holder is None


@dataclass
class Launch:
    """A server `up` is bringing to readiness; `process` is set only if this very run started it."""

    server: Server
    pid: int | None  # None: served by a process this launcher did not start
    process: subprocess.Popen[bytes] | None = None


def cmd_up(settings: Settings, reset: bool) -> int:
    """Print the addresses, the env file, and which servers this run started (for who stops them)."""
    layout = settings.layout
    backend = settings.mongo_backend or ("mongod" if find_mongod() else "ferretdb")
    with launcher_lock(layout):
        if reset:
            stop_servers(settings)
            wipe_data(layout)
        layout.create()
        servers = planned_servers(settings, layout, backend)
        existing = {server.name: survey(server, settings, layout) for server in servers}
        commands = prepare([server for server in servers if existing[server.name].missing], settings, backend)
        launches = start_all(servers, existing, commands, layout)
        write_env_file(settings)
    print(env_lines(settings), end="")
    print(f"# env file: {layout.env_file}")
    started = [launch.server.name for launch in launches if launch.process is not None]
    if started:
        print(f"# started: {' '.join(started)}")
    return EXIT_OK


def planned_servers(settings: Settings, layout: Layout, backend: str) -> list[Server]:
    label = "mongod" if backend == "mongod" else f"FerretDB {ferretdb_version()}"
    return [kafka_server(settings, layout), mongo_server(settings, layout, label)]


def survey(server: Server, settings: Settings, layout: Layout) -> Existing:
    """Ours (on the configured ports), another server of this kind to use as it is, or nothing."""
    record = running_record(server, layout)
    if record is not None:
        if record.ports != server.ports:
            raise LauncherError(
                f"{record.label} is already running on port(s) {format_ports(record.ports)}, not "
                f"{format_ports(server.ports)}; run `down` first to change ports"
            )
        return Existing(record=record)
    busy = [port for port in server.ports if not port_is_free(port)]
    if not busy:
        return Existing()
    port = busy[0]
    if port == server.client_port:
        try:
            wait_until_answers(server)
        except PROBE_ERRORS as error:
            raise LauncherError(
                f"port {LOOPBACK}:{port} is in use by {describe_holder(port)}, which this launcher did "
                f"not start and which does not answer as {server.kind} ({error}); stop it or choose "
                f"another port with {settings.port_names[port]}"
            ) from None
        holder = describe_holder(port)
        say(
            f"{server.kind} this launcher did not start already answers on {LOOPBACK}:{port} "
            f"({holder}); using it as it is (`down` leaves it running)"
        )
        return Existing(holder=holder)
    raise LauncherError(
        f"port {LOOPBACK}:{port} is already in use by {describe_holder(port)}, which this launcher did "
        f"not start; stop it or choose another port with {settings.port_names[port]}"
    )


def wait_until_answers(server: Server) -> None:
    """Give a server someone else is starting a few seconds; re-raise its last probe error."""
    deadline = time.monotonic() + FOREIGN_ANSWER_WAIT_S
    while True:
        try:
            server.answers()
            return
        except PROBE_ERRORS:
            if time.monotonic() >= deadline:
                raise
        time.sleep(POLL_INTERVAL_S * 4)


def prepare(missing: list[Server], settings: Settings, backend: str) -> dict[str, Callable[[], list[str]]]:
    """Resolve every tool first (exit 2 fast), then download or build; returns deferred commands.

    Deferred because a command may prepare state (Kafka formats its storage) and runs just
    before its server starts. A running server keeps what it has: nothing is rebuilt for it.
    """
    layout = settings.layout
    names = {server.name for server in missing}
    commands: dict[str, Callable[[], list[str]]] = {}
    slow_steps: list[tuple[CachedArtifact, Callable[[], None]]] = []
    if "kafka" in names:
        java, libs = require_java(), kafka_libs(layout)
        if not libs.is_fresh():
            slow_steps.append((libs, partial(fetch_kafka_libs, require_maven(), libs)))
        commands["kafka"] = partial(kafka_command, settings, layout, java, libs.path)
    if "mongo" in names and backend == "mongod":
        commands["mongo"] = partial(mongod_command, settings, layout, require_mongod())
    elif "mongo" in names:
        binary = ferretdb_binary(layout)
        if not binary.is_fresh():
            slow_steps.append((binary, partial(build_ferretdb, require_go(), binary)))
        commands["mongo"] = partial(ferretdb_command, settings, layout, binary.path)
    if slow_steps:
        with cache_lock(layout):
            for artifact, step in slow_steps:
                if not artifact.is_fresh():  # another launcher sharing the cache may have just made it
                    step()
    return commands


def start_all(
    servers: list[Server],
    existing: dict[str, Existing],
    commands: dict[str, Callable[[], list[str]]],
    layout: Layout,
) -> list[Launch]:
    """Start what is missing, all before waiting (they boot in parallel), then wait for ours.

    On any failure, including Ctrl-C, stop what this run started: no half-started server is left.
    """
    launches: list[Launch] = []
    try:
        for server in servers:
            found = existing[server.name]
            if found.record is not None:
                say(f"{server.label} already running (pid {found.record.pid})")
                launches.append(Launch(server, found.record.pid))
            elif found.holder is not None:
                launches.append(Launch(server, None))
            else:
                launches.append(spawn(server, commands[server.name](), layout))
        for launch in launches:
            if launch.pid is not None:
                elapsed = wait_ready(launch, layout)
                if launch.process is not None:
                    say(f"{launch.server.label} ready after {elapsed:.1f} s")
    except BaseException:
        stop_started(launches, layout)
        raise
    return launches


def spawn(server: Server, command: list[str], layout: Layout) -> Launch:
    """Start in a new session (own process group): `down` signals it and its children as one."""
    log_path = layout.log_file(server.name)
    say(f"starting {server.label} on {LOOPBACK}:{server.client_port} (log: {log_path})")
    rotate_log(log_path)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=layout.run,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    PidRecord(process.pid, server.ports, server.label).write(layout.pid_file(server.name))
    return Launch(server, process.pid, process)


def wait_ready(launch: Launch, layout: Layout) -> float:
    """Probe until ready; fail early if the process dies, naming its log and showing its tail."""
    server = launch.server
    assert launch.pid is not None
    log_path = layout.log_file(server.name)
    started = time.monotonic()
    reason = "not probed yet"
    while time.monotonic() - started < server.ready_timeout_s:
        if not is_alive(launch.pid):
            raise LauncherError(f"{server.label} exited during startup; see {log_path}", tail_file(log_path))
        try:
            server.probe()
            return time.monotonic() - started
        except (OSError, NotReadyError) as error:
            reason = str(error) or type(error).__name__
        time.sleep(POLL_INTERVAL_S)
    raise LauncherError(
        f"{server.label} was not ready after {server.ready_timeout_s:.0f} s ({reason}); see {log_path}",
        tail_file(log_path),
    )


def stop_started(launches: list[Launch], layout: Layout) -> None:
    """Undo a failed `up`, touching only the servers that this very run started."""
    for launch in launches:
        if launch.process is not None and launch.pid is not None:
            stop_group(launch.pid, launch.server.label)
            launch.process.wait(timeout=KILL_TIMEOUT_S)
            layout.pid_file(launch.server.name).unlink(missing_ok=True)
