"""The two servers: how each is named, recognised as ours, and probed.

Recognising matters because `down` must only ever signal a process this launcher started:
each server's command line carries an argument unique to its state folder (a marker).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from deploy.local.launcher.kafka_jars import kafka_version
from deploy.local.launcher.layout import Layout
from deploy.local.launcher.probes import probe_kafka, probe_mongo
from deploy.local.launcher.processes import KAFKA_MARKER_PREFIX, PidRecord, cmdline_has, is_alive
from deploy.local.launcher.settings import Settings

KAFKA_NODE_ID = 1  # must match node.id in kafka/server.properties.template
KAFKA_READY_TIMEOUT_S = 120.0
MONGO_READY_TIMEOUT_S = 60.0
SERVER_NAMES = ("kafka", "mongo")


@dataclass(frozen=True)
class Server:
    """One supervised server; `up` also knows how to start it (see startup.py)."""

    name: str  # pid and log file stem, and the name `down` accepts
    label: str  # for people, e.g. "Kafka 4.1.2"
    kind: str  # what any server of this kind is, e.g. "a Kafka broker"
    ports: tuple[int, ...]  # the first one is the client port
    markers: tuple[str, ...]  # command-line arguments unique to this state folder; any one matches
    probe: Callable[[], None]  # ready, and the very server we started
    answers: Callable[[], None]  # some server of this kind serves on the client port
    ready_timeout_s: float

    @property
    def client_port(self) -> int:
        return self.ports[0]


def kafka_marker(layout: Layout) -> str:
    """A no-op JVM system property whose only job is to tag the broker's command line."""
    return f"{KAFKA_MARKER_PREFIX}{layout.root}"


def mongod_dbpath(layout: Layout) -> Path:
    return layout.data / "mongo" / "mongod"


def ferretdb_data_dir(layout: Layout) -> Path:
    """FerretDB keeps one SQLite file per database here (<database>.sqlite)."""
    return layout.data / "mongo" / "ferretdb"


# SQLite in WAL mode with synchronous=NORMAL: a commit no longer waits for an fsync of the
# WAL (FULL, SQLite's default, does). A crash or kill of FerretDB loses nothing; only a power
# cut or an OS crash can lose the last commits, which a local development and test server
# may. Production runs MongoDB (DESIGN §6), where this does not apply.
FERRETDB_SQLITE_OPTIONS = "?_pragma=synchronous(normal)"


def ferretdb_sqlite_url(layout: Layout) -> str:
    """A directory URL (trailing slash) with SQLite options, as FerretDB's -sqlite-url wants it."""
    return f"file:{ferretdb_data_dir(layout)}/{FERRETDB_SQLITE_OPTIONS}"


def kafka_server(settings: Settings, layout: Layout) -> Server:
    return Server(
        name="kafka",
        label=f"Kafka {kafka_version()}",
        kind="a Kafka broker",
        ports=(settings.kafka_port, settings.controller_port),
        markers=(kafka_marker(layout),),
        probe=partial(probe_kafka, settings.kafka_port, KAFKA_NODE_ID),
        answers=partial(probe_kafka, settings.kafka_port, None),
        ready_timeout_s=KAFKA_READY_TIMEOUT_S,
    )


def mongo_server(settings: Settings, layout: Layout, label: str = "MongoDB server") -> Server:
    """Either backend: its data-path argument identifies it, so `down` finds whichever ran."""
    return Server(
        name="mongo",
        label=label,
        kind="a MongoDB-wire server",
        ports=(settings.mongo_port,),
        markers=(str(mongod_dbpath(layout)), ferretdb_sqlite_url(layout)),
        probe=partial(probe_mongo, settings.mongo_port),
        answers=partial(probe_mongo, settings.mongo_port),
        ready_timeout_s=MONGO_READY_TIMEOUT_S,
    )


def known_servers(settings: Settings, layout: Layout) -> list[Server]:
    """Servers as `down` and `status` see them: found by marker, whatever backend was used."""
    return [kafka_server(settings, layout), mongo_server(settings, layout)]


def running_record(server: Server, layout: Layout, remove_stale: bool = True) -> PidRecord | None:
    """The pid file's record if that process still runs and is still ours (pid reuse happens).

    Stale pid files are removed only by callers holding the launcher lock (not `status`).
    """
    pid_file = layout.pid_file(server.name)
    record = PidRecord.read(pid_file)
    if record is not None and is_alive(record.pid) and cmdline_has(record.pid, server.markers):
        return record
    if remove_stale:
        pid_file.unlink(missing_ok=True)
    return None
