#!/usr/bin/env python3
"""Local infrastructure for Carepath: a real Kafka broker and a MongoDB-wire server.

Why this exists: the test suite and the run command need Kafka and MongoDB on
machines without Docker (DESIGN.md section 6, third option). It starts Apache
Kafka in KRaft combined mode (jars resolved once from Maven Central) and either
`mongod` (when on the PATH) or FerretDB built once with Go, waits until both
answer real protocol requests, and stops exactly what it started.

It uses only the standard library because it must run before any virtualenv
exists:  python3 deploy/local/launcher.py {up [--reset] | down | status | env | clean}
"""

from __future__ import annotations

import argparse
import base64
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import string
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, NamedTuple
from xml.etree import ElementTree

SCRIPT_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCRIPT_DIR.parent.parent
KAFKA_SOURCES = SCRIPT_DIR / "kafka"
FERRETDB_SOURCES = SCRIPT_DIR / "ferretdb"
FERRETDB_PATCH = FERRETDB_SOURCES / "id-index.patch"
FERRETDB_MODULE = "github.com/FerretDB/FerretDB"

LOOPBACK = "127.0.0.1"
KAFKA_NODE_ID = 1  # must match node.id in kafka/server.properties.template
MIN_JAVA_MAJOR = 17
MIN_GO_VERSION = (1, 24)  # FerretDB v1.24's go.mod requires it

KAFKA_READY_TIMEOUT_S = 120.0
MONGO_READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
KILL_TIMEOUT_S = 5.0
PROBE_TIMEOUT_S = 2.0
POLL_INTERVAL_S = 0.25
TAIL_LINES = 25

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_PREREQUISITE = 2
EXIT_NOT_RUNNING = 3
EXIT_INTERRUPTED = 130


# --------------------------------------------------------------------------- errors


class LauncherError(Exception):
    """A failure reported as one line (plus optional details), never a traceback."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


class PrerequisiteError(LauncherError):
    """A missing tool: exit code 2 so callers can tell 'cannot run here' from 'broke'."""

    exit_code = EXIT_PREREQUISITE


class NotReadyError(Exception):
    """A probe reached the server but it is not serving yet (the reason is the message)."""


def say(message: str) -> None:
    """Progress goes to stderr so stdout stays shell-sourceable."""
    print(f"carepath launcher: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """Everything configurable through the environment, validated once."""

    state_dir: Path
    cache_dir: Path
    kafka_port: int
    controller_port: int
    mongo_port: int
    partitions: int
    heap: str
    mongo_backend: str | None  # None: mongod if on PATH, else FerretDB

    @classmethod
    def from_env(cls, environ: dict[str, str]) -> Settings:
        state_dir = Path(environ.get("CAREPATH_LOCAL_DIR") or REPO_ROOT / ".local")
        cache_dir = Path(environ.get("CAREPATH_CACHE_DIR") or state_dir / "cache")
        backend = environ.get("CAREPATH_MONGO_BACKEND", "").strip().lower() or None
        if backend not in (None, "ferretdb", "mongod"):
            raise LauncherError(f"CAREPATH_MONGO_BACKEND must be 'ferretdb' or 'mongod', not {backend!r}")
        heap = environ.get("CAREPATH_KAFKA_HEAP", "512m").strip()
        if not re.fullmatch(r"[1-9][0-9]*[kKmMgG]?", heap):
            raise LauncherError(f"CAREPATH_KAFKA_HEAP must look like 512m or 1g, not {heap!r}")
        settings = cls(
            state_dir=state_dir.expanduser().resolve(),
            cache_dir=cache_dir.expanduser().resolve(),
            kafka_port=env_int(environ, "CAREPATH_KAFKA_PORT", 9092, 1, 65535),
            controller_port=env_int(environ, "CAREPATH_KAFKA_CONTROLLER_PORT", 9093, 1, 65535),
            mongo_port=env_int(environ, "CAREPATH_MONGO_PORT", 27017, 1, 65535),
            partitions=env_int(environ, "CAREPATH_KAFKA_PARTITIONS", 6, 1, 1000),
            heap=heap,
            mongo_backend=backend,
        )
        ports = (settings.kafka_port, settings.controller_port, settings.mongo_port)
        if len(set(ports)) != len(ports):
            raise LauncherError(f"the Kafka, Kafka controller and MongoDB ports must differ, got {ports}")
        return settings

    @property
    def kafka_bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.kafka_port}"

    @property
    def mongodb_uri(self) -> str:
        return f"mongodb://{LOOPBACK}:{self.mongo_port}/"


def env_int(environ: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    """Parse an integer setting, naming the variable when it is wrong."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise LauncherError(f"{name} must be an integer, not {raw!r}") from None
    if not low <= value <= high:
        raise LauncherError(f"{name} must be between {low} and {high}, not {value}")
    return value


@dataclass(frozen=True)
class Layout:
    """Where state lives under the (git-ignored) state directory."""

    root: Path
    cache: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def env_file(self) -> Path:
        return self.run / "infra.env"

    @property
    def lock_file(self) -> Path:
        return self.root / "launcher.lock"

    def pid_file(self, service: str) -> Path:
        return self.run / f"{service}.pid"

    def log_file(self, service: str) -> Path:
        return self.logs / f"{service}.log"

    def create(self) -> None:
        for folder in (self.cache, self.data, self.run, self.logs):
            folder.mkdir(parents=True, exist_ok=True)


# --------------------------------------------------------------------------- versions


POM_NAMESPACE = "{http://maven.apache.org/POM/4.0.0}"


def kafka_version() -> str:
    """The pom is the single source of truth for the Kafka version."""
    pom = ElementTree.parse(KAFKA_SOURCES / "pom.xml")  # noqa: S314 - the repo's own pom.xml
    version = pom.find(f"{POM_NAMESPACE}properties/{POM_NAMESPACE}kafka.version")
    if version is None or not version.text:
        raise LauncherError(f"no <kafka.version> property in {KAFKA_SOURCES / 'pom.xml'}")
    return version.text.strip()


def ferretdb_version() -> str:
    """go.mod is the single source of truth for the FerretDB version."""
    go_mod = (FERRETDB_SOURCES / "go.mod").read_text(encoding="utf-8")
    found = re.search(r"github\.com/FerretDB/FerretDB\s+(v[0-9][^\s]*)", go_mod)
    if found is None:
        raise LauncherError(f"no github.com/FerretDB/FerretDB requirement in {FERRETDB_SOURCES / 'go.mod'}")
    return found.group(1)


def sources_digest(*files: Path) -> str:
    """Fingerprint of the inputs of a cached artifact, so editing them invalidates the cache."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


# --------------------------------------------------------------------------- prerequisites


def find_java() -> str | None:
    """JAVA_HOME wins, as it does for Maven, so both use the same JDK."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.access(Path(java_home) / "bin" / "java", os.X_OK):
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def java_major_version(java: str) -> int | None:
    """Parse `java -version` ('1.8.0_392' is 8, '17.0.15' is 17)."""
    result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    found = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def go_version(go: str) -> tuple[int, int] | None:
    """Parse `go env GOVERSION` ('go1.26.8' is (1, 26))."""
    result = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False)
    found = re.match(r"go(\d+)\.(\d+)", result.stdout.strip())
    return (int(found.group(1)), int(found.group(2))) if found else None


def require_java() -> str:
    java = find_java()
    if java is None:
        raise PrerequisiteError(
            f"Java {MIN_JAVA_MAJOR}+ is required to run Kafka (not found on PATH); "
            f"install OpenJDK {MIN_JAVA_MAJOR} or set KAFKA_BOOTSTRAP_SERVERS"
        )
    major = java_major_version(java)
    if major is None or major < MIN_JAVA_MAJOR:
        found = f"Java {major}" if major else "an unrecognised Java"
        raise PrerequisiteError(
            f"Java {MIN_JAVA_MAJOR}+ is required to run Kafka ({java} is {found}); "
            f"install OpenJDK {MIN_JAVA_MAJOR} or set KAFKA_BOOTSTRAP_SERVERS"
        )
    return java


def require_maven() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise PrerequisiteError(
            "Maven is required once to download the Kafka jars (mvn not found on PATH); "
            "install Maven 3 or set KAFKA_BOOTSTRAP_SERVERS"
        )
    return mvn


def require_go() -> str:
    go = shutil.which("go")
    wanted = ".".join(map(str, MIN_GO_VERSION))
    if go is None:
        raise PrerequisiteError(
            f"Go {wanted}+ is required once to build FerretDB (go not found on PATH); "
            "install Go, put mongod on the PATH, or set MONGODB_URI"
        )
    version = go_version(go)
    if version is None or version < MIN_GO_VERSION:
        found = ".".join(map(str, version)) if version else "unrecognised"
        raise PrerequisiteError(
            f"Go {wanted}+ is required once to build FerretDB (found {found}); "
            "install a newer Go, put mongod on the PATH, or set MONGODB_URI"
        )
    return go


def require_mongod() -> str:
    mongod = shutil.which("mongod")
    if mongod is None:
        raise PrerequisiteError(
            "CAREPATH_MONGO_BACKEND=mongod but mongod is not on PATH; "
            "install MongoDB or unset CAREPATH_MONGO_BACKEND to use FerretDB"
        )
    return mongod


# --------------------------------------------------------------------------- cached artifacts


@dataclass(frozen=True)
class CachedArtifact:
    """A download or build kept under cache/, valid only if its stamp matches its inputs."""

    path: Path  # the folder of jars or the binary
    stamp: Path
    digest: str

    def is_fresh(self) -> bool:
        try:
            return self.path.exists() and self.stamp.read_text(encoding="utf-8").strip() == self.digest
        except FileNotFoundError:
            return False

    def mark_fresh(self) -> None:
        self.stamp.write_text(self.digest + "\n", encoding="utf-8")


def kafka_libs(layout: Layout) -> CachedArtifact:
    """The broker's jars, keyed by Kafka version and invalidated when the pom changes."""
    home = layout.cache / "kafka" / kafka_version()
    return CachedArtifact(home / "libs", home / ".complete", sources_digest(KAFKA_SOURCES / "pom.xml"))


def ferretdb_binary(layout: Layout) -> CachedArtifact:
    """The FerretDB binary, keyed by version and invalidated when its Go sources or patch change."""
    home = layout.cache / "ferretdb" / ferretdb_version()
    inputs = [FERRETDB_SOURCES / name for name in ("main.go", "go.mod", "go.sum", FERRETDB_PATCH.name)]
    return CachedArtifact(home / "ferretdb", home / ".complete", sources_digest(*inputs))


def run_build_step(description: str, command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a download/build step; on failure show the tail of its output, not a traceback."""
    result = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise LauncherError(f"{description} failed (exit code {result.returncode})", tail_text(output))
    return result.stdout


def fetch_kafka_libs(mvn: str, libs: CachedArtifact) -> None:
    """Copy the broker's runtime jars out of Maven into the cache, atomically."""
    staging = libs.path.with_name(libs.path.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(libs.path, ignore_errors=True)
    say(f"resolving Kafka {kafka_version()} jars from Maven Central (first time only)...")
    started = time.monotonic()
    run_build_step(
        "resolving the Kafka jars with Maven",
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(KAFKA_SOURCES / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
        ],
        cwd=KAFKA_SOURCES,
    )
    staging.rename(libs.path)
    libs.mark_fresh()
    say(f"Kafka jars cached in {libs.path} ({time.monotonic() - started:.0f} s)")


def build_ferretdb(go: str, binary: CachedArtifact) -> None:
    """Build the tiny FerretDB main against a patched copy of FerretDB (see ferretdb/id-index.patch).

    A failed build never looks cached (temporary name first).
    """
    workspace = binary.path.parent / "build"
    staging = binary.path.with_name(binary.path.name + ".partial")
    say(f"building FerretDB {ferretdb_version()} with Go (first time only, a minute or two)...")
    started = time.monotonic()
    env = dict(os.environ, GOFLAGS="-mod=mod", CGO_ENABLED="0")  # its SQLite driver is pure Go
    shutil.rmtree(workspace, ignore_errors=True)
    workspace.mkdir(parents=True)
    for name in ("main.go", "go.mod", "go.sum"):
        shutil.copyfile(FERRETDB_SOURCES / name, workspace / name)
    module = f"{FERRETDB_MODULE}@{ferretdb_version()}"
    downloaded = run_build_step(
        "downloading FerretDB with Go", [go, "mod", "download", "-json", module], cwd=workspace, env=env
    )
    copy_writable_tree(Path(json.loads(downloaded)["Dir"]), workspace / "FerretDB")
    apply_unified_diff(FERRETDB_PATCH.read_text(encoding="utf-8"), workspace / "FerretDB")
    run_build_step(
        "pointing the build at the patched FerretDB",
        [go, "mod", "edit", f"-replace={FERRETDB_MODULE}=./FerretDB"],
        cwd=workspace,
        env=env,
    )
    run_build_step(
        "building FerretDB with Go",
        [go, "build", "-trimpath", "-buildvcs=false", "-o", str(staging), "."],
        cwd=workspace,
        env=env,
    )
    staging.replace(binary.path)
    binary.mark_fresh()
    say(f"FerretDB built into {binary.path} ({time.monotonic() - started:.0f} s)")


def copy_writable_tree(source: Path, target: Path) -> None:
    """Copy a Go module out of the read-only module cache as plain, writable files."""
    for folder, _, files in os.walk(source):
        destination = target / Path(folder).relative_to(source)
        destination.mkdir(parents=True, exist_ok=True)
        for name in files:
            shutil.copyfile(Path(folder) / name, destination / name)


class PatchError(LauncherError):
    """The committed patch no longer applies (the patched module changed)."""


def apply_unified_diff(diff: str, root: Path) -> None:
    """Apply a unified diff with exact context: each hunk's old lines must occur exactly once."""
    for relative, hunks in parse_unified_diff(diff):
        path = root / relative
        text = path.read_text(encoding="utf-8")
        for old, new in hunks:
            if text.count(old) != 1:
                raise PatchError(f"patch hunk does not apply exactly once to {path}", old)
            text = text.replace(old, new)
        path.write_text(text, encoding="utf-8")


def parse_unified_diff(diff: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """(path, [(old text, new text)]) per file; text before the first `---` is commentary."""
    files: list[tuple[str, list[tuple[str, str]]]] = []
    lines = diff.splitlines(keepends=True)
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("+++ "):
            path = line[4:].split("\t")[0].strip()
            files.append((path.split("/", 1)[1] if path.startswith("b/") else path, []))
        elif line.startswith("@@ ") and files:
            found = re.match(r"@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@", line)
            if found is None:
                raise PatchError(f"malformed hunk header: {line.strip()}")
            old_count, new_count = int(found.group(1) or 1), int(found.group(2) or 1)
            old: list[str] = []
            new: list[str] = []
            while len(old) < old_count or len(new) < new_count:
                index += 1
                body = lines[index]
                kind, content = body[:1], body[1:]
                if kind in (" ", "\n"):
                    old.append(content or "\n")
                    new.append(content or "\n")
                elif kind == "-":
                    old.append(content)
                elif kind == "+":
                    new.append(content)
            files[-1][1].append(("".join(old), "".join(new)))
        index += 1
    return files


# --------------------------------------------------------------------------- wire probes


def recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise NotReadyError("connection closed by the server")
        chunks += chunk
    return bytes(chunks)


KAFKA_CLIENT_ID = b"carepath-launcher"
KAFKA_API_METADATA = 3
KAFKA_API_VERSIONS = 18
# Metadata versions where the (non-flexible) wire format changes; v9+ is flexible (compact
# encodings), which this probe does not speak.
METADATA_THROTTLE_FIRST = 3  # response starts with throttle_time_ms
METADATA_AUTO_CREATE_FLAG = 4  # request has allow_auto_topic_creation
METADATA_AUTHORIZED_OPS_FLAGS = 8  # request has two include_*_authorized_operations
METADATA_LAST_NON_FLEXIBLE = 8


def kafka_request(sock: socket.socket, api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    """One round-trip with request header v1 (non-flexible APIs); returns the response body."""
    header = struct.pack(">hhih", api_key, version, correlation_id, len(KAFKA_CLIENT_ID)) + KAFKA_CLIENT_ID
    sock.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
    (size,) = struct.unpack(">i", recv_exact(sock, 4))
    response = recv_exact(sock, size)
    (answered,) = struct.unpack_from(">i", response)
    if answered != correlation_id:
        raise NotReadyError(f"Kafka answered correlation id {answered}, expected {correlation_id}")
    return response[4:]


def kafka_api_versions(sock: socket.socket) -> dict[int, tuple[int, int]]:
    """ApiVersions v0: proves a Kafka broker (not just any listener) is serving requests."""
    body = kafka_request(sock, KAFKA_API_VERSIONS, 0, 1, b"")
    error_code, count = struct.unpack_from(">hi", body)
    if error_code != 0:
        raise NotReadyError(f"Kafka ApiVersions returned error code {error_code}")
    ranges = {}
    for index in range(count):
        api_key, low, high = struct.unpack_from(">hhh", body, 6 + 6 * index)
        ranges[api_key] = (low, high)
    return ranges


def kafka_metadata_broker_ids(sock: socket.socket, version: int) -> list[int]:
    """Metadata v1..v8 for no topics: the broker lists itself once registered and unfenced."""
    body = struct.pack(">i", 0)  # empty topic list: brokers only
    if version >= METADATA_AUTO_CREATE_FLAG:
        body += b"\x00"
    if version >= METADATA_AUTHORIZED_OPS_FLAGS:
        body += b"\x00\x00"
    response = kafka_request(sock, KAFKA_API_METADATA, version, 2, body)
    offset = 4 if version >= METADATA_THROTTLE_FIRST else 0
    (count,) = struct.unpack_from(">i", response, offset)
    offset += 4
    broker_ids = []
    for _ in range(count):
        node_id, host_length = struct.unpack_from(">ih", response, offset)
        offset += 6 + host_length + 4  # host bytes, port
        (rack_length,) = struct.unpack_from(">h", response, offset)
        offset += 2 + max(rack_length, 0)
        broker_ids.append(node_id)
    return broker_ids


def probe_kafka(port: int) -> None:
    """Ready means: ApiVersions answers without error and Metadata lists our broker."""
    with socket.create_connection((LOOPBACK, port), timeout=PROBE_TIMEOUT_S) as sock:
        ranges = kafka_api_versions(sock)
        low, high = ranges.get(KAFKA_API_METADATA, (0, -1))
        version = max(low, 1)
        if version > min(high, METADATA_LAST_NON_FLEXIBLE):
            raise NotReadyError(f"Kafka supports no Metadata version this probe speaks ({low}..{high})")
        if KAFKA_NODE_ID not in kafka_metadata_broker_ids(sock, version):
            raise NotReadyError("the broker has not registered with the controller yet")


MONGO_OP_MSG = 2013
MONGO_OK_TRUE = b"\x01ok\x00" + struct.pack("<d", 1.0)  # BSON double field ok: 1.0


def bson_document(fields: dict[str, int | str]) -> bytes:
    """Just enough BSON (int32 and string fields) to send a `hello` command."""
    elements = bytearray()
    for name, value in fields.items():
        key = name.encode() + b"\x00"
        if isinstance(value, int):
            elements += b"\x10" + key + struct.pack("<i", value)
        else:
            raw = value.encode() + b"\x00"
            elements += b"\x02" + key + struct.pack("<i", len(raw)) + raw
    return struct.pack("<i", len(elements) + 5) + bytes(elements) + b"\x00"


def probe_mongo(port: int) -> None:
    """Ready means: an OP_MSG `hello` on the admin database comes back with ok: 1.0."""
    section = b"\x00" + bson_document({"hello": 1, "$db": "admin"})  # kind 0: body
    message = struct.pack("<I", 0) + section  # flagBits
    request_id = 1
    with socket.create_connection((LOOPBACK, port), timeout=PROBE_TIMEOUT_S) as sock:
        sock.sendall(struct.pack("<iiii", 16 + len(message), request_id, 0, MONGO_OP_MSG) + message)
        length, _, response_to, opcode = struct.unpack("<iiii", recv_exact(sock, 16))
        reply = recv_exact(sock, length - 16)
    if opcode != MONGO_OP_MSG or response_to != request_id:
        raise NotReadyError(f"unexpected MongoDB reply (opcode {opcode}, responseTo {response_to})")
    if MONGO_OK_TRUE not in reply:
        raise NotReadyError("MongoDB answered hello without ok: 1")


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class PidRecord:
    """What a pid file remembers: the process and how it was started (ports, label)."""

    pid: int
    ports: tuple[int, ...]
    label: str

    def write(self, path: Path) -> None:
        """Write-then-rename, so a concurrent `status` never reads a half-written file."""
        ports = ",".join(map(str, self.ports))
        staging = path.with_name(path.name + ".partial")
        staging.write_text(f"{self.pid}\nports={ports}\nlabel={self.label}\n", encoding="utf-8")
        staging.replace(path)

    @classmethod
    def read(cls, path: Path) -> PidRecord | None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
            fields = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
            ports = tuple(int(port) for port in fields.get("ports", "").split(",") if port)
            return cls(int(lines[0]), ports, fields.get("label", "?"))
        except (FileNotFoundError, IndexError, ValueError):
            return None


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, process group) from /proc/<pid>/stat, or None if there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may contain spaces
    return fields[0], int(fields[2])


def is_alive(pid: int) -> bool:
    """Zombies count as dead: they hold no ports and their parent reaps them."""
    stat = proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def cmdline_has(pid: int, markers: tuple[str, ...]) -> bool:
    """Guards against pid reuse: one argument must be exactly a marker of the process we started.

    Whole-argument comparison, so /tmp/x never matches a process started for /tmp/x2.
    """
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return any(marker.encode() in arguments for marker in markers)


def group_members(pgid: int) -> list[int]:
    """Live processes in a process group (a service and anything it forked)."""
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


def tail_text(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def tail_file(path: Path, lines: int = TAIL_LINES) -> str:
    """Only the end of the file is read: a broker log can be large."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            return tail_text(handle.read().decode("utf-8", errors="replace"), lines)
    except FileNotFoundError:
        return "(no log file)"


def rotate_log(path: Path) -> None:
    """Keep the previous run's log as <name>.log.1 so a fresh start has a clean log to read."""
    if path.exists():
        path.replace(path.with_name(path.name + ".1"))


# --------------------------------------------------------------------------- services


@dataclass(frozen=True)
class Service:
    """One supervised server: how to recognise it, probe it, and (for `up`) start it."""

    name: str  # pid/log file stem
    label: str  # human name, e.g. "Kafka 4.1.2"
    ports: tuple[int, ...]  # the first one is the client port
    markers: tuple[str, ...]  # command-line arguments unique to this state dir; any one matches
    probe: Callable[[], None]
    ready_timeout_s: float


def kafka_marker(layout: Layout) -> str:
    """A no-op JVM system property whose only job is to tag the broker's command line."""
    return f"-Dcarepath.local.dir={layout.root}"


def mongod_dbpath(layout: Layout) -> Path:
    return layout.data / "mongo" / "mongod"


def ferretdb_sqlite_url(layout: Layout) -> str:
    """A directory URL (trailing slash): FerretDB keeps one SQLite file per database in it."""
    return f"file:{layout.data / 'mongo' / 'ferretdb'}/"


def kafka_service(settings: Settings, layout: Layout) -> Service:
    return Service(
        name="kafka",
        label=f"Kafka {kafka_version()}",
        ports=(settings.kafka_port, settings.controller_port),
        markers=(kafka_marker(layout),),
        probe=lambda: probe_kafka(settings.kafka_port),
        ready_timeout_s=KAFKA_READY_TIMEOUT_S,
    )


def mongo_service(settings: Settings, layout: Layout, label: str = "MongoDB server") -> Service:
    """Either backend: its data-path argument identifies it, so `down` finds whichever ran."""
    return Service(
        name="mongo",
        label=label,
        ports=(settings.mongo_port,),
        markers=(str(mongod_dbpath(layout)), ferretdb_sqlite_url(layout)),
        probe=lambda: probe_mongo(settings.mongo_port),
        ready_timeout_s=MONGO_READY_TIMEOUT_S,
    )


def render_server_properties(settings: Settings, layout: Layout) -> Path:
    """Fill the shipped template; regenerated on every start so port changes take effect."""
    template = string.Template((KAFKA_SOURCES / "server.properties.template").read_text(encoding="utf-8"))
    rendered = template.substitute(
        kafka_port=settings.kafka_port,
        controller_port=settings.controller_port,
        partitions=settings.partitions,
        log_dirs=layout.data / "kafka",
    )
    target = layout.run / "server.properties"
    target.write_text(rendered, encoding="utf-8")
    return target


def new_cluster_id() -> str:
    """Like Kafka's Uuid.randomUuid: 22 base64url chars, never a leading '-' (looks like a flag)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def kafka_jvm_options(layout: Layout, heap: str) -> list[str]:
    """Fixed heap (default 512m) keeps the broker modest on a machine shared with the tests."""
    return [
        f"-Xmx{heap}",
        f"-Xms{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent",
        f"-XX:ErrorFile={layout.logs}/kafka-hs_err_%p.log",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={KAFKA_SOURCES / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={layout.logs}",
    ]


def format_kafka_storage(java: str, libs: Path, properties: Path, layout: Layout) -> None:
    """KRaft needs its log directory formatted with a cluster id once, before the first start."""
    if (layout.data / "kafka" / "meta.properties").exists():
        return
    cluster_id = new_cluster_id()
    say(f"formatting Kafka storage in {layout.data / 'kafka'} (cluster id {cluster_id})")
    run_build_step(
        "formatting the Kafka storage",
        [
            java,
            "-Xmx256m",
            f"-Dlog4j2.configurationFile={KAFKA_SOURCES / 'log4j2.properties'}",
            "-cp",
            f"{libs}/*",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(properties),
        ],
        cwd=layout.run,
    )


def kafka_command(settings: Settings, layout: Layout, java: str, libs: Path) -> list[str]:
    """Render the config and format storage first: both must be in place before the JVM starts."""
    properties = render_server_properties(settings, layout)
    format_kafka_storage(java, libs, properties, layout)
    return [
        java,
        *kafka_jvm_options(layout, settings.heap),
        kafka_marker(layout),
        "-cp",
        f"{libs}/*",
        "kafka.Kafka",
        str(properties),
    ]


def mongod_command(settings: Settings, layout: Layout, mongod: str) -> list[str]:
    """Standalone mongod with a small WiredTiger cache, so it stays modest next to the tests."""
    dbpath = mongod_dbpath(layout)
    dbpath.mkdir(parents=True, exist_ok=True)
    return [
        mongod,
        "--dbpath",
        str(dbpath),
        "--port",
        str(settings.mongo_port),
        "--bind_ip",
        LOOPBACK,
        "--nounixsocket",
        "--wiredTigerCacheSizeGB",
        "0.25",
    ]


def ferretdb_command(settings: Settings, layout: Layout, binary: Path) -> list[str]:
    """FerretDB logs every connection at INFO, so run it at WARN; its startup line still shows."""
    (layout.data / "mongo" / "ferretdb").mkdir(parents=True, exist_ok=True)
    return [
        str(binary),
        "-listen-addr",
        f"{LOOPBACK}:{settings.mongo_port}",
        "-sqlite-url",
        ferretdb_sqlite_url(layout),
        "-log-level",
        "warn",
    ]


# --------------------------------------------------------------------------- up


@dataclass
class Launch:
    """A service `up` is bringing to readiness; `process` is set only if this run started it."""

    service: Service
    pid: int
    process: subprocess.Popen[bytes] | None


@dataclass(frozen=True)
class Plan:
    """Resolved before anything starts, so every missing prerequisite fails fast."""

    java: str
    mvn: str | None  # only when the jars are not cached
    libs: CachedArtifact
    mongod: str | None  # set when mongod is the backend, else FerretDB
    go: str | None  # only when FerretDB must be built
    ferretdb: CachedArtifact


def make_plan(settings: Settings, layout: Layout) -> Plan:
    """Resolve every tool needed (Maven, Go only when their cache is missing), or exit 2."""
    java = require_java()
    libs = kafka_libs(layout)
    mvn = None if libs.is_fresh() else require_maven()
    backend = settings.mongo_backend or ("mongod" if shutil.which("mongod") else "ferretdb")
    mongod = require_mongod() if backend == "mongod" else None
    binary = ferretdb_binary(layout)
    go = require_go() if backend == "ferretdb" and not binary.is_fresh() else None
    return Plan(java, mvn, libs, mongod, go, binary)


def prepare_caches(plan: Plan, starting: set[str]) -> None:
    """Download/build only what a server about to start needs; a running one keeps what it has."""
    if plan.mvn is not None and "kafka" in starting:
        fetch_kafka_libs(plan.mvn, plan.libs)
    if plan.go is not None and "mongo" in starting:
        build_ferretdb(plan.go, plan.ferretdb)


def running_record(service: Service, layout: Layout, remove_stale: bool = True) -> PidRecord | None:
    """The pid file's record if that process is still ours.

    Stale pid files are removed only by callers holding the launcher lock (not `status`).
    """
    pid_file = layout.pid_file(service.name)
    record = PidRecord.read(pid_file)
    if record is not None and is_alive(record.pid) and cmdline_has(record.pid, service.markers):
        return record
    if remove_stale:
        pid_file.unlink(missing_ok=True)
    return None


def check_ports_free(service: Service, port_names: dict[int, str]) -> None:
    """Refuse to start next to a foreign server: clients would silently talk to the wrong one."""
    for port in service.ports:
        if not port_is_free(port):
            raise LauncherError(
                f"port {LOOPBACK}:{port} is already in use by a process this launcher did not "
                f"start; stop that process or choose another port with {port_names[port]}"
            )


def spawn(service: Service, command: list[str], layout: Layout) -> Launch:
    """Start in a new session (own process group): `down` signals it and its children as one."""
    log_path = layout.log_file(service.name)
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
    PidRecord(process.pid, service.ports, service.label).write(layout.pid_file(service.name))
    return Launch(service, process.pid, process)


def wait_ready(launch: Launch, layout: Layout) -> float:
    """Probe until ready; fail early if the process dies, naming its log and showing its tail."""
    service = launch.service
    log_path = layout.log_file(service.name)
    started = time.monotonic()
    reason = "not probed yet"
    while time.monotonic() - started < service.ready_timeout_s:
        if not is_alive(launch.pid):
            raise LauncherError(f"{service.label} exited during startup; see {log_path}", tail_file(log_path))
        try:
            service.probe()
            return time.monotonic() - started
        except (OSError, NotReadyError, struct.error) as error:
            reason = str(error) or type(error).__name__
        time.sleep(POLL_INTERVAL_S)
    timeout = f"{service.ready_timeout_s:.0f} s"
    raise LauncherError(
        f"{service.label} was not ready after {timeout} ({reason}); see {log_path}",
        tail_file(log_path),
    )


def check_reusable_or_free(service: Service, record: PidRecord | None, names: dict[int, str]) -> None:
    """Checked for all services before anything starts, so a port clash starts nothing."""
    if record is None:
        check_ports_free(service, names)
    elif record.ports != service.ports:
        raise LauncherError(
            f"{record.label} is already running on port(s) {format_ports(record.ports)}, not "
            f"{format_ports(service.ports)}; run `down` first to change ports"
        )


def write_env_file(settings: Settings, layout: Layout) -> None:
    layout.env_file.write_text(env_lines(settings), encoding="utf-8")


def env_lines(settings: Settings, export: bool = False) -> str:
    """KEY=VALUE lines: valid for `source`, `set -a`, dotenv loaders and docker --env-file alike."""
    prefix = "export " if export else ""
    return (
        f"{prefix}KAFKA_BOOTSTRAP_SERVERS={settings.kafka_bootstrap}\n"
        f"{prefix}MONGODB_URI={settings.mongodb_uri}\n"
    )


def port_names(settings: Settings) -> dict[int, str]:
    return {
        settings.kafka_port: "CAREPATH_KAFKA_PORT",
        settings.controller_port: "CAREPATH_KAFKA_CONTROLLER_PORT",
        settings.mongo_port: "CAREPATH_MONGO_PORT",
    }


class Startable(NamedTuple):
    """A service and the (deferred: it may format storage) command that starts it."""

    service: Service
    command: Callable[[], list[str]]


def cmd_up(settings: Settings, layout: Layout, reset: bool) -> int:
    """Start or reuse both servers, wait until ready, write the env file, print the addresses."""
    plan = make_plan(settings, layout)
    with launcher_lock(layout):
        if reset:
            stop_all(settings, layout)
            wipe_data(layout)
        layout.create()
        startables = planned_services(settings, layout, plan)
        records = preflight(startables, settings, layout)
        prepare_caches(plan, {name for name, record in records.items() if record is None})
        launches = start_all(startables, records, layout)
        write_env_file(settings, layout)
    for launch in launches:
        if launch.process is None:
            say(f"{launch.service.label} already running (pid {launch.pid})")
    print(env_lines(settings), end="")
    print(f"# env file: {layout.env_file}")
    return EXIT_OK


def planned_services(settings: Settings, layout: Layout, plan: Plan) -> list[Startable]:
    kafka = kafka_service(settings, layout)
    start_kafka = partial(kafka_command, settings, layout, plan.java, plan.libs.path)
    if plan.mongod is not None:
        mongo = mongo_service(settings, layout, "mongod")
        start_mongo = partial(mongod_command, settings, layout, plan.mongod)
    else:
        mongo = mongo_service(settings, layout, f"FerretDB {ferretdb_version()}")
        start_mongo = partial(ferretdb_command, settings, layout, plan.ferretdb.path)
    return [Startable(kafka, start_kafka), Startable(mongo, start_mongo)]


def preflight(startables: list[Startable], settings: Settings, layout: Layout) -> dict[str, PidRecord | None]:
    """Find what already runs and check the others' ports, before any slow download or build."""
    records = {item.service.name: running_record(item.service, layout) for item in startables}
    names = port_names(settings)
    for item in startables:
        check_reusable_or_free(item.service, records[item.service.name], names)
    return records


def start_all(
    startables: list[Startable], records: dict[str, PidRecord | None], layout: Layout
) -> list[Launch]:
    """Start what is not running, all before waiting (they boot in parallel), then wait for each.

    On any failure, including Ctrl-C, stop what this run started: no half-started server is left.
    """
    launches: list[Launch] = []
    try:
        for service, build_command in startables:
            record = records[service.name]
            if record is not None:
                launches.append(Launch(service, record.pid, None))
                continue
            command = build_command()
            log_path = layout.log_file(service.name)
            say(f"starting {service.label} on {LOOPBACK}:{service.ports[0]} (log: {log_path})")
            launches.append(spawn(service, command, layout))
        for launch in launches:
            elapsed = wait_ready(launch, layout)
            if launch.process is not None:
                say(f"{launch.service.label} ready after {elapsed:.1f} s")
    except BaseException:
        stop_started(launches, layout)
        raise
    return launches


def stop_started(launches: list[Launch], layout: Layout) -> None:
    """Undo a failed `up`, touching only the servers that this very run started."""
    for launch in launches:
        if launch.process is not None:
            stop_group(launch.pid, launch.service.label)
            launch.process.wait(timeout=KILL_TIMEOUT_S)
            layout.pid_file(launch.service.name).unlink(missing_ok=True)


# --------------------------------------------------------------------------- down / status / clean


@contextmanager
def launcher_lock(layout: Layout) -> Iterator[None]:
    """Serialise up/down/clean: parallel test workers may all call `up` at once."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with layout.lock_file.open("a") as handle:
        if not try_lock(handle):
            say("another launcher is busy in this state directory; waiting for it...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def known_services(settings: Settings, layout: Layout) -> list[Service]:
    """Services as `down`/`status` see them: identified by marker, whatever backend was used."""
    return [kafka_service(settings, layout), mongo_service(settings, layout)]


def stop_all(settings: Settings, layout: Layout) -> int:
    """Stop what the pid files name, if it is still ours; returns how many were stopped."""
    stopped = 0
    for service in known_services(settings, layout):
        record = running_record(service, layout)
        if record is None:
            continue
        stat = proc_stat(record.pid)
        if stat is None or stat[1] != record.pid:
            raise LauncherError(
                f"{record.label} (pid {record.pid}) no longer leads its process group; not killing"
            )
        say(f"stopping {record.label} (pid {record.pid})...")
        stop_group(record.pid, record.label)
        layout.pid_file(service.name).unlink(missing_ok=True)
        stopped += 1
    layout.env_file.unlink(missing_ok=True)
    return stopped


def cmd_down(settings: Settings, layout: Layout) -> int:
    """Stop what `up` started; exit 0 also when nothing was running, so it is safe in cleanups."""
    if not layout.root.exists():
        say("nothing is running")
        return EXIT_OK
    with launcher_lock(layout):
        stopped = stop_all(settings, layout)
    say("stopped" if stopped else "nothing is running")
    return EXIT_OK


def wipe_data(layout: Layout) -> None:
    """Data only: the jar and binary caches are expensive to rebuild and never hold state."""
    if layout.data.exists():
        say(f"wiping {layout.data}")
        shutil.rmtree(layout.data)


def cmd_clean(settings: Settings, layout: Layout) -> int:
    """Stop and wipe the data, keeping the caches: the next `up` starts empty but fast."""
    if not layout.root.exists():
        return EXIT_OK
    with launcher_lock(layout):
        stop_all(settings, layout)
        wipe_data(layout)
    return EXIT_OK


def describe(service: Service, layout: Layout, names: dict[int, str]) -> tuple[bool, str]:
    """One status line; healthy only if the process is ours and answers its protocol."""
    record = running_record(service, layout, remove_stale=False)
    if record is None:
        busy = [port for port in service.ports if not port_is_free(port)]
        note = f" (port {busy[0]} taken by another process, see {names[busy[0]]})" if busy else ""
        return False, f"{service.name:<6} stopped{note}"
    ports = format_ports(record.ports)
    running = f"{service.name:<6} {record.label} running (pid {record.pid}) on {ports}"
    if record.ports != service.ports:
        return False, f"{running}: not the configured ports"
    try:
        service.probe()
    except (OSError, NotReadyError, struct.error) as error:
        return False, f"{running}: not ready ({error})"
    return True, f"{running}: ready"


def cmd_status(settings: Settings, layout: Layout) -> int:
    """Exit 0 only when both servers are ours and ready, so scripts can test it directly."""
    names = port_names(settings)
    results = [describe(service, layout, names) for service in known_services(settings, layout)]
    for _, line in results:
        print(line)
    healthy = all(ok for ok, _ in results)
    if healthy:
        print(f"env file: {layout.env_file}")
    return EXIT_OK if healthy else EXIT_NOT_RUNNING


def cmd_env(settings: Settings, export: bool) -> int:
    """Addresses for the configured ports, whether or not the servers are up (nothing is probed)."""
    print(env_lines(settings, export), end="")
    return EXIT_OK


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="launcher.py",
        description="Start/stop a local Kafka broker and MongoDB-wire server for Carepath.",
        epilog="Settings (environment): CAREPATH_LOCAL_DIR, CAREPATH_KAFKA_PORT, "
        "CAREPATH_KAFKA_CONTROLLER_PORT, CAREPATH_MONGO_PORT, CAREPATH_KAFKA_PARTITIONS, "
        "CAREPATH_KAFKA_HEAP, CAREPATH_MONGO_BACKEND. See deploy/local/README.md.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start (or reuse) Kafka and the MongoDB server and wait until ready")
    up.add_argument("--reset", action="store_true", help="stop and wipe all data first (caches are kept)")
    commands.add_parser("down", help="stop what `up` started")
    commands.add_parser("status", help="show what is running (exit 0 if both are ready, 3 otherwise)")
    env = commands.add_parser("env", help="print KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI lines")
    env.add_argument("--export", action="store_true", help="prefix the lines with `export `")
    commands.add_parser("clean", help="stop and wipe all data (caches are kept)")
    return parser.parse_args(argv)


def dispatch(args: argparse.Namespace) -> int:
    settings = Settings.from_env(dict(os.environ))
    layout = Layout(settings.state_dir, settings.cache_dir)
    if args.command == "up":
        return cmd_up(settings, layout, args.reset)
    if args.command == "down":
        return cmd_down(settings, layout)
    if args.command == "status":
        return cmd_status(settings, layout)
    if args.command == "env":
        return cmd_env(settings, args.export)
    return cmd_clean(settings, layout)


def interrupt_on_sigterm(signum: int, frame: object) -> None:
    """A CI timeout's SIGTERM unwinds like Ctrl-C, so `up` stops the servers it half-started."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Every expected failure becomes one `carepath launcher:` line and an exit code."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, interrupt_on_sigterm)
    try:
        return dispatch(args)
    except LauncherError as error:
        print(f"carepath launcher: {error}", file=sys.stderr)
        if error.details:
            print(error.details, file=sys.stderr)
        return error.exit_code
    except OSError as error:  # e.g. an unwritable state directory: one line, not a traceback
        print(f"carepath launcher: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("carepath launcher: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
