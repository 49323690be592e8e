"""The `docker compose` to run: the engine's plugin, a standalone v2+, or one built here with Go.

Debian's docker.io ships no compose v2; Docker Compose is a Go program, so where it is missing
it is built from the Go module proxy at a pinned version (checksums verified by Go) into the
launcher's cache, as the local FerretDB is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from deploy.compose.report import step
from deploy.local.launcher.artifacts import CachedArtifact, run_build_step
from deploy.local.launcher.ferretdb_build import copy_writable_tree
from deploy.local.launcher.toolchain import require_go

COMPOSE_MODULE = "github.com/docker/compose/v5"
COMPOSE_VERSION = "v5.6.0"


def compose_command(docker: str, cache: Path) -> list[str]:
    if _works([docker, "compose", "version"]):
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone and _major_version([standalone, "version", "--short"]) >= 2:
        return [standalone]
    binary = CachedArtifact(
        cache / "compose" / COMPOSE_VERSION / "docker-compose",
        cache / "compose" / COMPOSE_VERSION / ".complete",
        COMPOSE_VERSION,
    )
    if not binary.is_fresh():
        with step(f"building Docker Compose {COMPOSE_VERSION} with Go (no compose v2 here; first time only)"):
            build_compose(binary)
    return [str(binary.path)]


def build_compose(binary: CachedArtifact) -> None:
    go = require_go()
    workspace = binary.path.parent / "build"
    shutil.rmtree(workspace, ignore_errors=True)
    workspace.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=mod")
    answer = run_build_step(
        "downloading Docker Compose",
        [go, "mod", "download", "-json", f"{COMPOSE_MODULE}@{COMPOSE_VERSION}"],
        workspace.parent,
        env,
    )
    copy_writable_tree(Path(json.loads(answer)["Dir"]), workspace)
    staging = binary.path.with_name("docker-compose.partial")
    run_build_step(
        "building Docker Compose",
        [
            go,
            "build",
            "-trimpath",
            "-ldflags",
            f"-X github.com/docker/compose/v5/internal.Version={COMPOSE_VERSION}",
            "-o",
            str(staging),
            "./cmd",
        ],
        workspace,
        env,
    )
    staging.replace(binary.path)
    shutil.rmtree(workspace, ignore_errors=True)
    binary.mark_fresh()


def _works(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, check=False, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _major_version(command: list[str]) -> int:
    try:
        answer = subprocess.run(command, capture_output=True, text=True, check=False, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    found = re.search(r"(\d+)\.\d+", answer)
    return int(found.group(1)) if found else 0
